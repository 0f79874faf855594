"""Adopting what a team already has in IAM Identity Center (``manage.py import_identity_center``).

provisioning.adoption reads Identity Center into a plan; this module stores it, one
transaction per access group, with the checks and the dated account and policy rows of
access_group_create. What is imported exists in Identity Center already, so its rows are
stored in sync with their Identity Center ids and nothing is enqueued: the portal's
provisioning, when it next runs, finds nothing to change. Imported access groups are not
requestable and have no approvers until an admin edits them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accessgroups.adoption.plan import GroupImport, IdentityUser, Member
from accessgroups.catalogue.services import access_group_clean_new, access_group_insert
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict
from accessgroups.models import (
    AccessGroup,
    Account,
    AccountSource,
    Membership,
    MembershipSource,
    ProvisioningStatus,
    User,
)

JUSTIFICATION = "Imported from IAM Identity Center"


def _field_limit(name: str) -> int:
    return User._meta.get_field(name).max_length


def identity_user_check(
    identity: IdentityUser, *, new_emails: dict[str, str] | None = None
) -> tuple[User | None, str]:
    """How the portal would hold an identity store user.

    Returns (the portal user of that username to link, or None to create one; the reason
    the portal cannot hold the user, or ""). ``new_emails`` maps the lower-cased addresses
    of users about to be created to their usernames, so that two cannot share an address.
    """
    username = identity.username
    user = User.objects.filter(username=username).first() if username else None
    if user is not None:
        if not user.is_active:
            return user, f"the portal user {username} is deactivated"
        if user.identity_center_user_id and user.identity_center_user_id != identity.user_id:
            return user, (
                f"the portal user {username} is linked to another Identity Center user "
                f"({user.identity_center_user_id})"
            )
        return user, ""
    return None, _new_user_problem(identity, new_emails or {})


def _new_user_problem(identity: IdentityUser, new_emails: dict[str, str]) -> str:
    username, email = identity.username, identity.email
    try:
        if not username.isascii() or len(username) > _field_limit("username"):
            raise ValidationError("not ASCII or too long")
        UnicodeUsernameValidator()(username)
    except ValidationError:
        return (
            f"its user name {username!r} is not one the portal accepts (ASCII letters, digits "
            f"and @ . + - _, at most {_field_limit('username')})"
        )
    if not email:
        return "it has no email address"
    try:
        validate_email(email)
    except ValidationError:
        return f"its email address {email!r} is not valid"
    if len(email) > _field_limit("email"):
        return f"its email address is longer than the portal's {_field_limit('email')} characters"
    holder = User.objects.for_email(email).first()
    if holder is not None:
        return f"its email address {email} is already the portal user {holder.username}'s"
    if email.lower() in new_emails:
        return f"its email address {email} is also {new_emails[email.lower()]}'s, imported first"
    for name, words in (("given_name", "given name"), ("family_name", "family name")):
        value = getattr(identity, name)
        if not value:
            return f"it has no {words}"
        if len(value) > _field_limit(name):
            return f"its {words} is longer than the portal's {_field_limit(name)} characters"
    if len(identity.display_name) > _field_limit("display_name"):
        return f"its display name is longer than the portal's {_field_limit('display_name')} characters"
    return ""


@dataclass
class ImportResult:
    """What one access group's import did."""

    name: str
    access_group: AccessGroup | None = None
    refused: str = ""  # the whole group was not imported, and why
    members: int = 0
    refused_members: list[tuple[str, str]] = field(default_factory=list)  # (user, reason)
    new_users: int = 0
    linked_users: int = 0
    accounts: int = 0
    new_accounts: int = 0


def access_group_import(
    *, item: GroupImport, new_accounts: dict[str, dict[str, str]], actor: User | None = None
) -> ImportResult:
    """Store one planned access group, its accounts, users and memberships, in one transaction.

    ``new_accounts`` are the plan's Account fields for accounts the portal did not know.
    A check that fails now (the name was taken since the plan was read) refuses the whole
    group and changes nothing; a member the portal cannot hold is left out, with the reason.
    """
    if actor is not None and not actor.is_admin:
        raise PermissionDenied("Only admins import from Identity Center.")
    result = ImportResult(name=item.name)
    try:
        with transaction.atomic():
            _store(item, new_accounts, actor, result)
    except ValidationError as exc:
        return ImportResult(name=item.name, refused=" ".join(exc.messages))
    except Conflict as exc:
        return ImportResult(name=item.name, refused=exc.message)
    return result


def _store(
    item: GroupImport,
    new_accounts: dict[str, dict[str, str]],
    actor: User | None,
    result: ImportResult,
) -> None:
    now = timezone.now()
    holder = AccessGroup.objects.filter(
        Q(identity_center_group_id=item.group_id) | Q(permission_set_arn=item.permission_set_arn)
    ).first()
    if holder is not None:
        raise Conflict(
            f"The access group {holder.name} holds this group or permission set already."
        )
    result.new_accounts = _store_accounts(item, new_accounts, actor)
    result.accounts = len(item.account_ids)
    cleaned = access_group_clean_new({**item.fields(), "accounts": item.account_ids})
    group, changes = access_group_insert(
        cleaned,
        now=now,
        identity_center_group_id=item.group_id,
        permission_set_arn=item.permission_set_arn,
        provisioning_status=ProvisioningStatus.IN_SYNC,
        generation=1,
        synced_generation=1,
        provisioned_at=now,
    )
    # The assignments exist: the links are confirmed, as provisioning would have left them.
    group.account_links.update(provisioning_status=ProvisioningStatus.IN_SYNC)
    result.access_group = group
    audit_record(
        action="access_group.imported",
        actor=actor,
        obj=group,
        access_group=group,
        message=JUSTIFICATION,
        data={
            **changes,
            "session_duration": group.session_duration,
            "requestable": False,
            "approvers": [],
            "identity_center_group_id": item.group_id,
            "permission_set_arn": item.permission_set_arn,
        },
    )
    for member in item.members:
        _store_member(member, group, actor, now, result)


def _store_accounts(
    item: GroupImport, new_accounts: dict[str, dict[str, str]], actor: User | None
) -> int:
    known = set(
        Account.objects.filter(account_id__in=item.account_ids).values_list("account_id", flat=True)
    )
    created = 0
    for account_id in item.account_ids:
        if account_id in known:
            continue
        fields = new_accounts.get(account_id) or {
            "name": account_id,
            "source": AccountSource.MANUAL,
        }
        try:
            with transaction.atomic():
                account = Account.objects.create(account_id=account_id, **fields)
        except IntegrityError:
            continue  # an accounts sync created it meanwhile
        audit_record(
            action="account.imported",
            actor=actor,
            obj=account,
            data={"account_id": account_id, **fields},
        )
        created += 1
    return created


def _store_member(
    member: Member, group: AccessGroup, actor: User | None, now: datetime, result: ImportResult
) -> None:
    identity = member.user
    label = identity.username or identity.user_id
    if member.refused and not identity.username:
        result.refused_members.append((label, member.refused))
        return
    user, refused = identity_user_check(identity)
    if refused:
        result.refused_members.append((label, refused))
        return
    if user is None:
        user = _create_user(identity, actor, now)
        if user is None:
            result.refused_members.append(
                (label, "a portal user of this name or email address was just created")
            )
            return
        result.new_users += 1
    elif not user.identity_center_user_id:
        _link_user(user, identity, actor)
        result.linked_users += 1
    membership = Membership.objects.create(
        user=user,
        access_group=group,
        source=MembershipSource.IMPORT,
        justification=JUSTIFICATION,
        granted_at=now,
        activated_at=now,
        identity_center_membership_id=member.membership_id,
        provisioning_status=ProvisioningStatus.IN_SYNC,
        generation=1,
        synced_generation=1,
        provisioned_at=now,
    )
    audit_record(
        action="membership.imported",
        actor=actor,
        obj=membership,
        access_group=group,
        subject=user,
        message=JUSTIFICATION,
        data={
            "source": MembershipSource.IMPORT,
            "expires_at": None,
            "identity_center_membership_id": member.membership_id,
        },
    )
    result.members += 1


def _create_user(identity: IdentityUser, actor: User | None, now: datetime) -> User | None:
    user = User(
        username=identity.username,
        email=identity.email,
        given_name=identity.given_name,
        family_name=identity.family_name,
        display_name=identity.display_name,
        identity_center_user_id=identity.user_id,
        onboarding_requested=True,
        provisioning_status=ProvisioningStatus.IN_SYNC,
        generation=1,
        synced_generation=1,
        provisioned_at=now,
    )
    # Sign-in is through SSO or a password reset, as for users onboarded by an admin.
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        return None
    audit_record(
        action="user.imported",
        actor=actor,
        obj=user,
        subject=user,
        message=JUSTIFICATION,
        data={"identity_center_user_id": identity.user_id, "email": identity.email},
    )
    return user


def _link_user(user: User, identity: IdentityUser, actor: User | None) -> None:
    """Store the Identity Center id of an existing portal user, who is then onboarded."""
    user.store_identity_center_id(identity.user_id)
    audit_record(
        action="user.linked",
        actor=actor,
        obj=user,
        subject=user,
        message="Linked to its IAM Identity Center user by the import.",
        data={"identity_center_user_id": identity.user_id},
    )
