"""Access groups: an identity store group, a permission set and its account assignments.

A live group is made to match its rows: group, permission set (settings and policies),
assignments for exactly the current account links, and ``ProvisionPermissionSet`` when a
permission set that is already assigned changed. An archived group is torn down: its
assignments, its permission set and its group are deleted, and its ended memberships,
which went with the group, are marked in sync.
"""

from __future__ import annotations

import logging

from django.db.models import F
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.dispatch import is_removal
from accessgroups.models import AccessGroup, Membership, ProvisioningStatus
from provisioning import assignments, aws
from provisioning.errors import NotFoundError, NotImplementedByEndpoint
from provisioning.identity_center import (
    Claim,
    Result,
    lookup,
    provision,
    record_drift,
    refuse_archived_owner,
    resync_memberships,
    write,
)
from provisioning.permission_sets import ensure_permission_set, push_to_accounts

logger = logging.getLogger(__name__)

GROUP_DESCRIPTION_MAX = 1024


def access_group_sync(*, access_group_id: int) -> Result:
    return provision(
        AccessGroup, access_group_id, _work, removal=lambda pk: is_removal(AccessGroup, pk)
    )


def _work(c: Claim) -> None:
    group = AccessGroup.objects.get(pk=c.pk)
    if group.archived_at is not None:
        teardown(group)
    else:
        converge(group, interrupted=c.interrupted)


def converge(group: AccessGroup, *, interrupted: bool = False) -> None:
    group_id = ensure_group(group)
    pending_accounts = [
        link.account
        for link in group.account_links.filter(valid_to__isnull=True)
        .exclude(provisioning_status=ProvisioningStatus.IN_SYNC)
        .select_related("account")
    ]
    arn, changed = ensure_permission_set(group, check_accounts=pending_accounts)
    report = assignments.sync_assignments(group, group_id=group_id, permission_set_arn=arn)
    # New assignments get the permission set as it is now; those made before need it
    # pushed. After an interrupted run we cannot know whether that push happened.
    if report.previously_assigned and (changed or interrupted):
        push_to_accounts(group, arn)
    report.raise_for_problems(group)


def ensure_group(group: AccessGroup) -> str:
    """The group's identity store GroupId: stored (and still there), found by name, or created."""
    store = aws.instance().identity_store_id
    stale = ""
    if group.identity_center_group_id:
        try:
            described = aws.call(
                "identitystore",
                "DescribeGroup",
                IdentityStoreId=store,
                GroupId=group.identity_center_group_id,
            )
            _update_description(group, described)
            return group.identity_center_group_id
        except NotFoundError:
            stale = group.identity_center_group_id
    group_id = lookup(
        "identitystore",
        "GetGroupId",
        "GroupId",
        IdentityStoreId=store,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": group.name}
        },
    )
    if group_id is not None:
        refuse_archived_owner(group, identity_center_group_id=group_id)
    else:
        description = group.description.strip()[:GROUP_DESCRIPTION_MAX]
        group_id = write(
            "identitystore",
            "CreateGroup",
            obj=group,
            access_group=group,
            result=lambda r: {"GroupId": r["GroupId"]},
            IdentityStoreId=store,
            DisplayName=group.name,
            **({"Description": description} if description else {}),
        )["GroupId"]
    AccessGroup.objects.filter(pk=group.pk).update(identity_center_group_id=group_id)
    group.identity_center_group_id = group_id
    active = Membership.objects.active().filter(access_group=group)
    if stale:
        record_drift(obj=group, access_group=group, what="group", old_id=stale, new_id=group_id)
        # The memberships went with the old group: make every one of them again.
        resync_memberships(active)
    else:
        # Memberships waiting for this group to exist can go now rather than at their next retry.
        for pk in active.filter(provisioning_status=ProvisioningStatus.PENDING).values_list(
            "pk", flat=True
        ):
            sync.sync_on_commit(Membership, pk)
    return group_id


def _update_description(group: AccessGroup, described: dict) -> None:
    description = group.description.strip()[:GROUP_DESCRIPTION_MAX]
    if not description or described.get("Description", "") == description:
        return
    try:
        write(
            "identitystore",
            "UpdateGroup",
            obj=group,
            access_group=group,
            IdentityStoreId=aws.instance().identity_store_id,
            GroupId=group.identity_center_group_id,
            Operations=[{"AttributePath": "description", "AttributeValue": description}],
        )
    except NotImplementedByEndpoint:
        # The group's description is informational (the permission set carries it too);
        # an endpoint without UpdateGroup must not fail the whole access group.
        logger.warning(
            "UpdateGroup is not available; the description of group %s stays as it was", group.name
        )


def teardown(group: AccessGroup) -> None:
    """Delete an archived group's assignments, permission set and group from Identity Center."""
    inst = aws.instance()
    group_id, arn = group.identity_center_group_id, group.permission_set_arn
    links = list(
        group.account_links.select_related("account").exclude(
            provisioning_status=ProvisioningStatus.IN_SYNC
        )
    )
    ended: dict[str, list] = {}
    for link in links:
        ended.setdefault(link.account.account_id, []).append(link)
    report = assignments.Report()
    if group_id:
        pairs = assignments.assigned_accounts(group_id, None)
        changes = [
            assignments.Change(assignments.DELETE, account, group_id, ps)
            for account, ps in sorted(pairs)
        ]
        assigned = {account for account, _ in pairs}
        assignments.apply(group, changes, current={}, ended=ended, report=report)
    else:
        assigned = set()
    # Links whose assignment was not there to delete are done too.
    for account, account_links in ended.items():
        if account not in assigned:
            assignments.mark_links(account_links, current=False, status=ProvisioningStatus.IN_SYNC)
    report.raise_for_problems(group)

    if arn:
        try:
            write(
                "sso-admin",
                "DeletePermissionSet",
                obj=group,
                access_group=group,
                InstanceArn=inst.arn,
                PermissionSetArn=arn,
            )
        except NotFoundError:
            pass  # already gone
        AccessGroup.objects.filter(pk=group.pk).update(permission_set_arn="")
    if group_id:
        try:
            write(
                "identitystore",
                "DeleteGroup",
                obj=group,
                access_group=group,
                IdentityStoreId=inst.identity_store_id,
                GroupId=group_id,
            )
        except NotFoundError:
            pass
        AccessGroup.objects.filter(pk=group.pk).update(identity_center_group_id="")
    # Deleting the group deleted its memberships with it.
    Membership.objects.filter(access_group=group, ended_at__isnull=False).exclude(
        provisioning_status=ProvisioningStatus.IN_SYNC
    ).update(
        provisioning_status=ProvisioningStatus.IN_SYNC,
        synced_generation=F("generation"),
        identity_center_membership_id="",
        last_error="",
        claimed_at=None,
        provisioned_at=timezone.now(),
    )
