"""Identity: onboarding portal users into the identity store, and deactivating them.

Deactivating a user ends all their access through the access workflow. Provisioning runs
after commit; nothing here calls AWS.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accessgroups.access.services import membership_end
from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict
from accessgroups.core.roles import require_admin, validate_roles
from accessgroups.models import EndReason, Membership, RequestStatus, User


def user_onboard(
    *,
    actor: User,
    username: str,
    email: str,
    given_name: str,
    family_name: str,
    display_name: str = "",
    roles: Iterable[str] = (),
) -> User:
    """Create a portal user and onboard them into the Identity Center identity store."""
    require_admin(actor)
    errors: dict[str, str] = {}
    username = (username or "").strip()
    try:
        if not username.isascii():
            raise ValidationError("Usernames are ASCII.")
        UnicodeUsernameValidator()(username)
    except ValidationError:
        errors["username"] = "Use letters, digits and @ . + - _ only (ASCII)."
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address."
    for field, value in (("given_name", given_name), ("family_name", family_name)):
        if not (value or "").strip():
            errors[field] = "Identity Center needs this name."
    if errors:
        raise ValidationError(errors)
    roles = validate_roles(roles)
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": "A user with this username exists."})
    if User.objects.for_email(email).exists():
        raise ValidationError({"email": "A user with this email exists."})
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User(
                    username=username,
                    email=email,
                    given_name=given_name.strip(),
                    family_name=family_name.strip(),
                    display_name=(display_name or "").strip() or f"{given_name.strip()} {family_name.strip()}",
                    is_auditor="auditor" in roles,
                    is_portal_admin="admin" in roles,
                    onboarding_requested=True,
                )
                # Sign-in is through SSO or a password reset; no password is ever sent.
                user.set_unusable_password()
                user.save()
        except IntegrityError:
            raise Conflict("A user with this username or email was just created.", field="username") from None
        audit_record(action="user.onboarded", actor=actor, obj=user, subject=user, data={"roles": roles})
        sync.sync_on_commit(User, user.pk)
    return user


def user_request_onboarding(user: User) -> None:
    """Make sure a user will be onboarded (e.g. before their first membership)."""
    if not user.onboarding_requested:
        User.objects.filter(pk=user.pk).update(onboarding_requested=True)


def user_deactivate(*, user: User, actor: User) -> User:
    """Deactivating a user revokes all their access and cancels their open requests."""
    require_admin(actor)
    if user.pk == actor.pk:
        raise ValidationError({"user": "You cannot deactivate yourself."})
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        for membership in Membership.objects.active().filter(user=user).select_related("access_group", "user"):
            membership_end(membership, reason=EndReason.DEACTIVATED, by=actor)
        user.access_requests.open().update(status=RequestStatus.CANCELLED, updated_at=timezone.now())
        audit_record(action="user.deactivated", actor=actor, obj=user, subject=user)
    user.refresh_from_db()
    return user


