"""Reading an existing IAM Identity Center into a plan of what the portal would adopt.

The portal's mapping read backwards: an identity store group with a permission set of the
same name becomes an access group (the permission set's description, session duration and
policies; the accounts where that group is assigned that permission set), and the group's
members become memberships. Nothing here writes, to AWS or to the database;
accessgroups.adoption.services stores the plan (``manage.py import_identity_center``).

Every List call is paged. Assignments are found per group with
``ListAccountAssignmentsForPrincipal`` (never ``ListAccountsForProvisionedPermissionSet``,
which says where a permission set is provisioned, not to whom it is assigned). Members
cost one ``DescribeUser`` each, once however many groups they are in.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from accessgroups.adoption.plan import GroupImport, IdentityUser, ImportPlan, Member, Skipped
from accessgroups.adoption.services import identity_user_check
from accessgroups.catalogue.services import access_group_clean_new
from accessgroups.core import validators
from accessgroups.models import AccessGroup, Account, AccountSource
from provisioning import assignments, aws
from provisioning.accounts import account_fields
from provisioning.errors import NotFoundError, ProvisioningError
from provisioning.permission_sets import (
    attached_customer_managed_policies,
    attached_managed_policies,
    described_permission_sets,
    inline_policy_text,
)

# Identity Center's largest page for every List call used here; tests lower it to see paging.
PAGE_SIZE = 100
# What Identity Center uses for a permission set created without a session duration.
DEFAULT_SESSION_DURATION = "PT1H"

_FIELD_WORDS = {
    "name": "name",
    "session_duration": "session duration",
    "aws_managed_policies": "AWS managed policies",
    "customer_managed_policies": "customer managed policies",
    "inline_policy": "inline policy",
    "description": "description",
}


def read_plan(*, only: Collection[str] = ()) -> ImportPlan:
    """What the import would adopt: every identity store group, or only those named.

    Raises ProvisioningError when Identity Center cannot be read at all (no instance, no
    permission to list groups or permission sets); a group that cannot be read is skipped
    with the reason.
    """
    inst = aws.instance()
    groups: dict[str, list[dict[str, Any]]] = {}
    for group in aws.paginate(
        "identitystore",
        "ListGroups",
        "Groups",
        IdentityStoreId=inst.identity_store_id,
        MaxResults=PAGE_SIZE,
    ):
        groups.setdefault(group.get("DisplayName", ""), []).append(group)
    permission_sets: dict[str, list[dict[str, Any]]] = {}
    for described in described_permission_sets(MaxResults=PAGE_SIZE):
        permission_sets.setdefault(described["Name"], []).append(described)
    names = {ps["PermissionSetArn"]: name for name, sets in permission_sets.items() for ps in sets}

    plan = ImportPlan()
    reader = _MemberReader(inst.identity_store_id)
    wanted = list(dict.fromkeys(only)) if only else sorted(groups, key=str.casefold)
    for name in wanted:
        try:
            item = _group_import(
                name, groups.get(name, []), permission_sets.get(name, []), names, reader
            )
        except _Skip as skip:
            plan.skipped.append(Skipped(name, str(skip)))
            continue
        plan.groups.append(item)
    _plan_accounts(plan)
    return plan


class _Skip(Exception):
    """The group is not imported; the message says why."""


def _group_import(
    name: str,
    found: list[dict[str, Any]],
    sets: list[dict[str, Any]],
    set_names: dict[str, str],
    reader: _MemberReader,
) -> GroupImport:
    if not found:
        raise _Skip("no identity store group has this name")
    try:
        validators.validate_group_name(name)
    except ValidationError as exc:
        raise _Skip(f"the portal does not accept this name: {' '.join(exc.messages)}") from None
    if len(found) > 1:
        raise _Skip(f"{len(found)} identity store groups have this name")
    if not sets:
        raise _Skip("no permission set has this name")
    if len(sets) > 1:
        raise _Skip(
            f"{len(sets)} permission sets have this name; the portal cannot tell which to adopt"
        )
    group_id, ps = found[0]["GroupId"], sets[0]
    arn = ps["PermissionSetArn"]
    _refuse_held(name, group_id, arn)
    try:
        item = GroupImport(
            name=name,
            group_id=group_id,
            permission_set_arn=arn,
            # The permission set's, so that provisioning finds it unchanged.
            description=ps.get("Description") or "",
            session_duration=ps.get("SessionDuration") or DEFAULT_SESSION_DURATION,
            aws_managed_policies=sorted(attached_managed_policies(arn, MaxResults=PAGE_SIZE)),
            customer_managed_policies=[
                {"name": policy_name, "path": path}
                for path, policy_name in sorted(
                    attached_customer_managed_policies(arn, MaxResults=PAGE_SIZE)
                )
            ],
            inline_policy=_inline_policy(arn),
            account_ids=[],
            members=[],
        )
        try:
            access_group_clean_new(item.fields())
        except ValidationError as exc:
            raise _Skip(f"the portal would refuse its permission set: {_words(exc)}") from None
        pairs = assignments.assigned_accounts(group_id, None, MaxResults=PAGE_SIZE)
        others = sorted((set_names.get(p, p), account) for account, p in pairs if p != arn)
        if others:
            shown = ", ".join(f"{ps_name} in {account}" for ps_name, account in others[:5])
            raise _Skip(
                f"the group also holds other permission sets ({shown}"
                f"{f' and {len(others) - 5} more' if len(others) > 5 else ''}), which an access "
                "group cannot show: approving a member would grant those too; move them to a "
                "group of their own and import again"
            )
        item.account_ids = sorted(account for account, p in pairs if p == arn)
        item.members = reader.members(group_id)
        described_group = found[0].get("Description") or ""
        if described_group and described_group != item.description:
            item.notes.append(
                "the group's description differs from the permission set's; the portal keeps "
                "the permission set's and writes it to the group at the next change"
                if item.description
                else "the group has a description and its permission set none; the portal "
                "shows none and leaves the group's as it is"
            )
    except ProvisioningError as exc:
        raise _Skip(f"could not read it from Identity Center: {exc.message}") from None
    return item


def _refuse_held(name: str, group_id: str, arn: str) -> None:
    holder = (
        AccessGroup.objects.filter(
            Q(name__iexact=name, archived_at__isnull=True)
            | Q(identity_center_group_id=group_id)
            | Q(permission_set_arn=arn)
        )
        .order_by("archived_at")
        .first()
    )
    if holder is None:
        return
    if holder.archived_at is None:
        raise _Skip(f"the portal already has the access group {holder.name}")
    raise _Skip(
        f"the archived access group {holder.name} (#{holder.pk}) still holds this group or permission "
        "set; wait until the portal has deleted them from Identity Center"
    )


def _inline_policy(arn: str) -> dict[str, Any] | None:
    text = inline_policy_text(arn)
    if not text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        raise _Skip(
            "the portal would refuse its permission set: the inline policy is not valid JSON"
        ) from None
    if not isinstance(document, dict):
        raise _Skip(
            "the portal would refuse its permission set: the inline policy is not a JSON object"
        )
    return document


def _words(exc: ValidationError) -> str:
    return "; ".join(
        f"{_FIELD_WORDS.get(key, key)}: {' '.join(messages)}"
        for key, messages in exc.message_dict.items()
    )


class _MemberReader:
    """Reads group members; each user is described and judged once, whatever their groups."""

    def __init__(self, store: str) -> None:
        self.store = store
        self.judged: dict[str, tuple[IdentityUser | None, str, str]] = {}
        # Addresses of users the plan creates, so that two of them cannot share one.
        self.new_emails: dict[str, str] = {}

    def members(self, group_id: str) -> list[Member]:
        found: dict[str, Member] = {}
        for listed in aws.paginate(
            "identitystore",
            "ListGroupMemberships",
            "GroupMemberships",
            IdentityStoreId=self.store,
            GroupId=group_id,
            MaxResults=PAGE_SIZE,
        ):
            user_id = listed.get("MemberId", {}).get("UserId", "")
            if user_id in found:
                continue  # a duplicate membership (AWS refuses them; emulators may not)
            identity, linked_to, refused = self._judge(user_id)
            if identity is None:
                identity = IdentityUser(user_id, "", "", "", "", "")
            found[user_id] = Member(listed["MembershipId"], identity, linked_to, refused)
        return sorted(found.values(), key=lambda m: (m.user.username, m.user.user_id))

    def _judge(self, user_id: str) -> tuple[IdentityUser | None, str, str]:
        if user_id not in self.judged:
            identity = self._describe(user_id)
            if identity is None:
                self.judged[user_id] = (None, "", f"the identity store has no user {user_id}")
            else:
                user, refused = identity_user_check(identity, new_emails=self.new_emails)
                if user is None and not refused:
                    self.new_emails[identity.email.lower()] = identity.username
                self.judged[user_id] = (identity, user.username if user else "", refused)
        return self.judged[user_id]

    def _describe(self, user_id: str) -> IdentityUser | None:
        if not user_id:
            return None
        try:
            described = aws.call(
                "identitystore", "DescribeUser", IdentityStoreId=self.store, UserId=user_id
            )
        except NotFoundError:
            return None
        return identity_user(described)


def identity_user(described: dict[str, Any]) -> IdentityUser:
    """An identity store user (DescribeUser's answer) as the import reads it."""
    emails = [e for e in described.get("Emails") or [] if e.get("Value")]
    primary = next((e for e in emails if e.get("Primary")), emails[0] if emails else {})
    name = described.get("Name") or {}
    given, family = (name.get("GivenName") or "").strip(), (name.get("FamilyName") or "").strip()
    return IdentityUser(
        user_id=described["UserId"],
        username=described.get("UserName") or "",
        email=(primary.get("Value") or "").strip(),
        given_name=given,
        family_name=family,
        display_name=(described.get("DisplayName") or "").strip() or f"{given} {family}".strip(),
    )


def _plan_accounts(plan: ImportPlan) -> None:
    """Account rows for the accounts the portal does not know, named from Organizations."""
    wanted = {account for item in plan.groups for account in item.account_ids}
    unknown = wanted - set(
        Account.objects.filter(account_id__in=wanted).values_list("account_id", flat=True)
    )
    if not unknown:
        return
    try:
        organization = {
            listed["Id"]: account_fields(listed)
            for listed in aws.paginate("organizations", "ListAccounts", "Accounts")
        }
    except ProvisioningError as exc:
        organization = {}
        plan.notes.append(
            f"Could not read the accounts from AWS Organizations ({exc.message}); new accounts "
            "are named by their id. Sync the accounts later to name them."
        )
    for account_id in sorted(unknown):
        plan.new_accounts[account_id] = organization.get(account_id) or {
            "name": account_id,
            "source": AccountSource.MANUAL,
        }
