"""Memberships as identity store group memberships.

The Identity Center membership of (user, group) should exist if and only if some active
membership row of that user and group exists, the user is active and the group is live.
An ended row whose pair is still covered by another active row therefore leaves Identity
Center alone. Granting costs two calls when the user's and group's ids are stored: one
look-up (never create a duplicate: the emulator would accept one) and one write.
"""

from __future__ import annotations

from accessgroups.access.outcomes import membership_activated, membership_provisioning_failed
from accessgroups.access.timing import membership_waits_for_start
from accessgroups.core import sync
from accessgroups.core.dispatch import is_removal
from accessgroups.models import AccessGroup, Membership, User
from provisioning import aws
from provisioning.errors import NotFoundError, TransientError
from provisioning.identity_center import (
    Claim,
    Outcome,
    Result,
    give_up,
    lookup,
    provision,
    record_drift,
    refuse_archived_owner,
    write,
)
from provisioning.users import ensure_user, forget_user_id

# Deleting looks the membership up again afterwards, in case a duplicate made outside the
# portal is still there; a few rounds is plenty, a loop would hide a real problem.
MAX_DELETE_ROUNDS = 3


def membership_sync(*, membership_id: int) -> Result:
    if membership_waits_for_start(membership_id=membership_id):
        # A delayed start (docs/decisions/0017): it stays pending until the start sweep
        # hands it over, whatever sent it early.
        return Result(Outcome.SKIPPED)
    return provision(
        Membership,
        membership_id,
        _work,
        on_success=_on_success,
        on_failure=_on_failure,
        removal=lambda pk: is_removal(Membership, pk),
    )


def membership_give_up(c: Claim, message: str) -> None:
    """Transient errors outlasted the retries: the membership and its requests fail."""
    if give_up(c, message):
        membership_provisioning_failed(membership_id=c.pk, error=message)


def _on_success(c: Claim) -> None:
    if Membership.objects.filter(pk=c.pk, ended_at__isnull=True).exists():
        membership_activated(membership_id=c.pk)


def _on_failure(c: Claim, message: str) -> None:
    membership_provisioning_failed(membership_id=c.pk, error=message)


def _work(c: Claim) -> None:
    membership = Membership.objects.select_related("user", "access_group").get(pk=c.pk)
    user, group = membership.user, membership.access_group
    pair_active = Membership.objects.active().filter(user=user, access_group=group).exists()
    wanted = pair_active and user.is_active and group.archived_at is None
    if wanted and not membership.is_active:
        # Another active membership covers this pair; its own task keeps Identity Center right.
        return
    if wanted:
        _ensure_member(membership, user, group)
    else:
        _ensure_not_member(membership, user, group)


def _member_id(user_id: str) -> dict[str, str]:
    return {"UserId": user_id}


def _ensure_member(membership: Membership, user: User, group: AccessGroup) -> None:
    store = aws.instance().identity_store_id
    user_id = ensure_user(user, for_membership=membership.pk)
    group_id = _group_id(group)
    healed = False
    while True:
        found = lookup(
            "identitystore",
            "GetGroupMembershipId",
            "MembershipId",
            IdentityStoreId=store,
            GroupId=group_id,
            MemberId=_member_id(user_id),
        )
        if found is not None:
            _store_membership_id(membership, found)
            return
        try:
            response = write(
                "identitystore",
                "CreateGroupMembership",
                obj=membership,
                access_group=group,
                subject=user,
                result=lambda r: {"MembershipId": r["MembershipId"]},
                IdentityStoreId=store,
                GroupId=group_id,
                MemberId=_member_id(user_id),
            )
        except NotFoundError as exc:
            if healed:
                raise
            # A stored id went stale (deleted in the console, a fresh emulator): heal it once.
            healed = True
            user_id, group_id = _heal(exc, membership, user, group)
            continue
        _store_membership_id(membership, response["MembershipId"])
        return


def _group_id(group: AccessGroup) -> str:
    if not group.identity_center_group_id:
        raise TransientError(
            f"Waiting for the access group {group.name} to be provisioned in Identity Center."
        )
    return group.identity_center_group_id


def _heal(
    exc: NotFoundError, membership: Membership, user: User, group: AccessGroup
) -> tuple[str, str]:
    """Find out which stored id is stale, replace it, and return (user id, group id)."""
    store = aws.instance().identity_store_id
    user_gone = exc.resource_type == "USER"
    group_gone = exc.resource_type == "GROUP"
    if not (user_gone or group_gone):
        # AWS did not say which: ask about each.
        user_gone = not _exists(
            "DescribeUser", IdentityStoreId=store, UserId=user.identity_center_user_id
        )
        group_gone = not _exists(
            "DescribeGroup", IdentityStoreId=store, GroupId=group.identity_center_group_id
        )
        if not (user_gone or group_gone):
            raise exc
    if user_gone:
        ensure_user(user, stale_id=forget_user_id(user), for_membership=membership.pk)
    if group_gone:
        _heal_group(group)
    return user.identity_center_user_id, group.identity_center_group_id


def _heal_group(group: AccessGroup) -> None:
    """The group's stored id is stale: look it up by name once, else have the group re-made."""
    old = group.identity_center_group_id
    found = lookup(
        "identitystore",
        "GetGroupId",
        "GroupId",
        IdentityStoreId=aws.instance().identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": group.name}
        },
    )
    if found is not None:
        refuse_archived_owner(group, identity_center_group_id=found)
    AccessGroup.objects.filter(pk=group.pk, identity_center_group_id=old).update(
        identity_center_group_id=found or ""
    )
    record_drift(obj=group, access_group=group, what="group", old_id=old, new_id=found or "")
    group.identity_center_group_id = found or ""
    if found is None:
        # The group itself must be created again, with its assignments.
        sync.request_sync(group)
        raise TransientError(
            f"Waiting for the access group {group.name} to be provisioned in Identity Center again."
        )


def _exists(operation: str, **params: str) -> bool:
    try:
        aws.call("identitystore", operation, **params)
        return True
    except NotFoundError:
        return False


def _ensure_not_member(membership: Membership, user: User, group: AccessGroup) -> None:
    store = aws.instance().identity_store_id
    user_id, group_id = user.identity_center_user_id, group.identity_center_group_id
    if user_id and group_id:
        stored = membership.identity_center_membership_id
        for _ in range(MAX_DELETE_ROUNDS):
            found = lookup(
                "identitystore",
                "GetGroupMembershipId",
                "MembershipId",
                IdentityStoreId=store,
                GroupId=group_id,
                MemberId=_member_id(user_id),
            )
            if found is None:
                break
            if stored and stored != found:
                record_drift(
                    obj=membership,
                    access_group=group,
                    subject=user,
                    what="group membership",
                    old_id=stored,
                    new_id=found,
                )
            stored = ""
            try:
                write(
                    "identitystore",
                    "DeleteGroupMembership",
                    obj=membership,
                    access_group=group,
                    subject=user,
                    IdentityStoreId=store,
                    MembershipId=found,
                )
            except NotFoundError:
                pass  # gone already: that is what we wanted
    _store_membership_id(membership, "")


def _store_membership_id(membership: Membership, membership_id: str) -> None:
    if membership.identity_center_membership_id != membership_id:
        Membership.objects.filter(pk=membership.pk).update(
            identity_center_membership_id=membership_id
        )
        membership.identity_center_membership_id = membership_id
