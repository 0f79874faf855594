"""Identity: onboarding portal users into the identity store, and deactivating them.

Deactivating a user ends all their access through the access workflow. Provisioning runs
after commit; nothing here calls AWS.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accessgroups.access import policies
from accessgroups.access.services import membership_end
from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict
from accessgroups.core.limits import column_max
from accessgroups.core.roles import require_admin, validate_roles
from accessgroups.core.validators import USERNAME_RE
from accessgroups.identity.source import MATCH_WORDS, identity_match, is_external
from accessgroups.models import EndReason, Membership, RequestStatus, User

USERNAME_RULE = "Use letters, digits and @ . + - _ only (ASCII)."
# Service accounts get an address under .invalid (RFC 2606): no mail can reach it and no
# identity provider can own it, so a password reset or a single sign-on never finds them.
SERVICE_ACCOUNT_EMAIL_DOMAIN = "service-account.invalid"


def _valid_username(username: str) -> bool:
    return bool(USERNAME_RE.fullmatch(username))


def user_onboard(
    *,
    actor: User,
    username: str,
    email: str,
    given_name: str = "",
    family_name: str = "",
    display_name: str = "",
    roles: Iterable[str] = (),
    external_id: str = "",
) -> User:
    """Create a portal user and onboard them into the Identity Center identity store.

    IDENTITY_SOURCE=external: the identity provider owns the identity store user, so no
    name is required; the portal links the user by IDENTITY_MATCH once it exists.
    """
    require_admin(actor)
    errors: dict[str, str] = {}
    given_name, family_name = (given_name or "").strip(), (family_name or "").strip()
    external_id = (external_id or "").strip()
    username = (username or "").strip()
    if not _valid_username(username):
        errors["username"] = USERNAME_RULE
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address."
    if not is_external():
        for field, value in (("given_name", given_name), ("family_name", family_name)):
            if not value:
                errors[field] = "Identity Center needs this name."
    if "\x00" in external_id or len(external_id) > column_max(User, "external_id"):
        errors["external_id"] = f"At most {column_max(User, 'external_id')} characters, no NUL."
    elif is_external() and identity_match() == "external_id" and not external_id:
        errors["external_id"] = (
            "Required: the portal finds this person's Identity Center user by the "
            f"{MATCH_WORDS['external_id']} their identity provider gave them "
            "(IDENTITY_MATCH=external_id)."
        )
    if errors:
        raise ValidationError(errors)
    roles = validate_roles(roles)
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": "A user with this username exists."})
    if User.objects.for_email(email).exists():
        raise ValidationError({"email": "A user with this email exists."})
    if external_id and User.objects.filter(external_id=external_id).exists():
        raise ValidationError({"external_id": "A user with this external id exists."})
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User(
                    username=username,
                    email=email,
                    given_name=given_name,
                    family_name=family_name,
                    display_name=(display_name or "").strip()
                    or f"{given_name} {family_name}".strip(),
                    external_id=external_id,
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


def service_account_create(
    *, actor: User, username: str, display_name: str = "", roles: Iterable[str] = ()
) -> User:
    """Create a service account: an API client, not a person, that admins create tokens for.

    It has no password and no address anyone can receive mail at, the sign-in pages refuse
    it (accessgroups.auth.adapters), and it is never onboarded into Identity Center. Only
    this service sets ``is_service_account``, and only on a user it creates: no person can be
    turned into one, so an admin can never hold a key that acts as a person.
    """
    require_admin(actor)
    username = (username or "").strip()
    if not _valid_username(username):
        raise ValidationError({"username": USERNAME_RULE})
    display_name = (display_name or "").strip()
    if len(display_name) > column_max(User, "display_name") or "\x00" in display_name:
        raise ValidationError(
            {"display_name": f"At most {column_max(User, 'display_name')} characters, no NUL."}
        )
    roles = validate_roles(roles)
    email = f"{username}@{SERVICE_ACCOUNT_EMAIL_DOMAIN}"
    taken = User.objects.filter(username__iexact=username).exists()
    if taken or User.objects.for_email(email).exists():
        raise ValidationError({"username": "A user with this username exists."})
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User(
                    username=username,
                    email=email,
                    display_name=display_name or username,
                    is_auditor="auditor" in roles,
                    is_portal_admin="admin" in roles,
                    is_service_account=True,
                )
                user.set_unusable_password()
                user.save()
        except IntegrityError:
            raise Conflict(
                "A user with this username was just created.", field="username"
            ) from None
        audit_record(
            action="user.service_account_created",
            actor=actor,
            obj=user,
            subject=user,
            message=f"Service account {username} created",
            data={"roles": roles},
        )
    return user


def user_signed_in_with_sso(*, user: User, external_id: str) -> None:
    """A person signed in with single sign-on (a new person: their portal user was just
    made from the provider's claims).

    ``external_id`` is the provider's id of them (OIDC ``sub``, SAML NameID), kept unless the
    user already has one. With IDENTITY_SOURCE=external their identity store user exists (or
    will, once SCIM pushes it): a user not linked yet is linked now, in the background,
    rather than at their first access. Nothing here calls AWS.
    """
    if user.is_service_account or not user.is_active:
        return  # refused at sign-in (accessgroups.auth.adapters): nothing to record
    external_id = (external_id or "")[: column_max(User, "external_id")]
    if external_id and not user.external_id:
        User.objects.filter(pk=user.pk, external_id="").update(external_id=external_id)
        user.external_id = external_id
    if not is_external() or user.onboarding_requested or user.identity_center_user_id:
        return
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(onboarding_requested=True)
        user.onboarding_requested = True
        audit_record(
            action="user.link_requested",
            obj=user,
            subject=user,
            message=(
                f"{user.username} signed in with single sign-on: "
                "linking their Identity Center user"
            ),
            data={"match": identity_match()},
        )
        sync.request_sync(user)


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
        short = policies.groups_left_short(approver=user, actor=actor)
        audit_record(
            action="user.deactivated",
            actor=actor,
            obj=user,
            subject=user,
            data={"quorum_short": short} if short else None,
        )
    user.refresh_from_db()
    return user


