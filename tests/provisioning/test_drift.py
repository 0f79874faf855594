"""The drift scan against moto in-process: each kind of outside change found, reverted (or
only reported), and resolved as gone once it is no longer there.

Outside changes are made with the test's own boto3 clients (``ic``), as someone in the
Identity Center console would; the portal only sees them by scanning.
"""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AuditEvent,
    DriftFinding,
    DriftKind,
    DriftResolution,
    DriftScan,
    ProvisioningStatus,
    User,
)
from provisioning import drift, tasks
from tests.provisioning.conftest import run_task
from tests.provisioning.drift_world import (
    POWER_USER,
    World,
    actions,
    open_findings,
    provisioned_world,
    scan,
    tamper_with_permission_set,
)

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def world(ic, aws_calls, enqueued, make_group, make_account, alice, dave) -> World:
    return provisioned_world(aws_calls, enqueued, make_group, make_account, alice, dave)


# --- nothing to find ------------------------------------------------------------------------


def test_a_portal_in_step_with_identity_center_has_no_drift(world, aws_calls):
    result = scan()

    assert DriftFinding.objects.count() == 0
    assert actions() == []
    assert sum(result.new.values()) == 0
    # Identity Center was only read.
    assert [c for c in aws_calls.calls if c.is_write] == []
    scan_row = DriftScan.objects.get()
    assert (scan_row.running, scan_row.groups_scanned, scan_row.error) == (False, 1, "")
    assert scan_row.finished_at is not None


def test_each_list_is_read_once_a_scan_in_pages_of_100(world, aws_calls):
    scan()

    per_operation = {op: aws_calls.count(op) for op in set(aws_calls.operations())}
    assert per_operation == {
        "ListGroupMemberships": 1,
        "ListAccountAssignmentsForPrincipal": 1,
        "DescribePermissionSet": 1,
        "ListManagedPoliciesInPermissionSet": 1,
        "ListCustomerManagedPolicyReferencesInPermissionSet": 1,
        "GetInlinePolicyForPermissionSet": 1,
        "ListAccountsForProvisionedPermissionSet": 1,
        # sandbox and prod: one read of each (account, permission set)
        "ListAccountAssignments": 2,
    }
    for call in aws_calls.calls:
        if call.operation.startswith("List"):
            assert call.params["MaxResults"] == 100, call


# --- members --------------------------------------------------------------------------------


def test_a_member_added_outside_the_portal_is_found_and_removed(ic, world, aws_calls):
    outsider = ic.create_user("mallory")
    ic.add_member(world.group_id, outsider)

    result = scan()

    finding = DriftFinding.objects.get()
    assert finding.kind == DriftKind.UNEXPECTED_MEMBER
    assert finding.principal == f"USER {outsider}"
    assert finding.user is None
    assert finding.access_group == world.group
    assert "mallory" in finding.detail and "without an active membership" in finding.detail
    assert (finding.resolution, finding.resolved_at is not None) == (DriftResolution.REVERTED, True)
    assert ic.members(world.group_id) == [world.alice.identity_center_user_id]
    assert result.new[DriftKind.UNEXPECTED_MEMBER] == 1
    assert result.reverted[DriftKind.UNEXPECTED_MEMBER] == 1
    assert actions("")[-3:] == [
        "drift.detected",
        "identity_center.DeleteGroupMembership",
        "drift.resolved",
    ]
    resolved = AuditEvent.objects.get(action="drift.resolved")
    assert resolved.data["resolution"] == "reverted"
    assert resolved.access_group_id == world.group.pk


def test_a_portal_user_added_outside_is_named_by_username(ic, world, erin, dave):
    # erin has an Identity Center user (she is in another group) but no access to ReadOnly.
    erin_id = ic.create_user("erin")
    User.objects.filter(pk=erin.pk).update(
        identity_center_user_id=erin_id, provisioning_status=ProvisioningStatus.IN_SYNC
    )
    ic.add_member(world.group_id, erin_id)

    scan(drift.REPORT)

    finding = DriftFinding.objects.get()
    assert (finding.kind, finding.principal, finding.user_id) == (
        DriftKind.UNEXPECTED_MEMBER,
        "erin",
        erin.pk,
    )
    assert finding.detail.startswith("erin is a member of the Identity Center group ReadOnly")
    assert finding.is_open
    assert AuditEvent.objects.get(action="drift.detected").subject_id == erin.pk


def test_a_member_removed_outside_is_found_and_provisioned_again(ic, world, enqueued):
    membership_id = ic.ids.get_group_membership_id(
        IdentityStoreId=ic.store,
        GroupId=world.group_id,
        MemberId={"UserId": world.alice.identity_center_user_id},
    )["MembershipId"]
    ic.ids.delete_group_membership(IdentityStoreId=ic.store, MembershipId=membership_id)

    scan()

    finding = DriftFinding.objects.get()
    assert (finding.kind, finding.principal, finding.user_id) == (
        DriftKind.MISSING_MEMBER,
        "alice",
        world.alice.pk,
    )
    assert finding.resolution == DriftResolution.REVERTED
    world.membership.refresh_from_db()
    # No longer confirmed in Identity Center until its task has made it again.
    assert world.membership.provisioning_status == ProvisioningStatus.PENDING
    assert enqueued == [("membership_sync_task", (world.membership.pk,))]

    assert run_task(tasks.membership_sync_task, world.membership.pk) == "in_sync"
    assert ic.members(world.group_id) == [world.alice.identity_center_user_id]
    scan()
    assert DriftFinding.objects.count() == 1  # nothing new


# --- assignments ----------------------------------------------------------------------------


def test_the_permission_set_assigned_in_another_account_is_found_and_removed(ic, world):
    ic.assign(world.other.account_id, world.arn, world.group_id)

    scan()

    finding = DriftFinding.objects.get()
    assert (finding.kind, finding.principal, finding.account_id) == (
        DriftKind.UNEXPECTED_ASSIGNMENT,
        "ReadOnly",
        world.other.account_id,
    )
    assert f"account {world.other.account_id} (other)" in finding.detail
    assert finding.resolution == DriftResolution.REVERTED
    assert sorted(a for a, _ in ic.assignments(world.group_id)) == sorted(
        [world.sandbox.account_id, world.prod.account_id]
    )
    assert "identity_center.DeleteAccountAssignment" in actions("")


def test_the_permission_set_assigned_to_a_user_directly_is_found_and_removed(ic, world):
    outsider = ic.create_user("mallory")
    ic.sso.create_account_assignment(
        InstanceArn=ic.instance_arn,
        TargetId=world.sandbox.account_id,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=world.arn,
        PrincipalType="USER",
        PrincipalId=outsider,
    )

    scan()

    finding = DriftFinding.objects.get()
    assert (finding.kind, finding.principal_type, finding.principal, finding.account_id) == (
        DriftKind.UNEXPECTED_ASSIGNMENT,
        "USER",
        f"USER {outsider}",
        world.sandbox.account_id,
    )
    assert "mallory" in finding.detail
    assert finding.resolution == DriftResolution.REVERTED
    left = ic.sso.list_account_assignments(
        InstanceArn=ic.instance_arn,
        AccountId=world.sandbox.account_id,
        PermissionSetArn=world.arn,
    )["AccountAssignments"]
    assert [(a["PrincipalType"], a["PrincipalId"]) for a in left] == [("GROUP", world.group_id)]


def test_another_permission_set_assigned_to_the_group_is_found_and_removed(ic, world):
    other_arn = ic.sso.create_permission_set(InstanceArn=ic.instance_arn, Name="Admin")[
        "PermissionSet"
    ]["PermissionSetArn"]
    ic.assign(world.sandbox.account_id, other_arn, world.group_id)

    scan()

    finding = DriftFinding.objects.get()
    assert (finding.kind, finding.permission_set_arn, finding.account_id) == (
        DriftKind.UNEXPECTED_ASSIGNMENT,
        other_arn,
        world.sandbox.account_id,
    )
    assert finding.resolution == DriftResolution.REVERTED
    assert other_arn not in {arn for _, arn in ic.assignments(world.group_id)}


def test_an_assignment_removed_outside_is_found_and_the_group_synced(ic, world, enqueued):
    ic.sso.delete_account_assignment(
        InstanceArn=ic.instance_arn,
        TargetId=world.prod.account_id,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=world.arn,
        PrincipalType="GROUP",
        PrincipalId=world.group_id,
    )

    scan()

    finding = DriftFinding.objects.get()
    assert (finding.kind, finding.account_id) == (
        DriftKind.MISSING_ASSIGNMENT,
        world.prod.account_id,
    )
    assert finding.resolution == DriftResolution.REVERTED
    link = AccessGroupAccount.objects.get(access_group=world.group, account=world.prod)
    assert link.provisioning_status == ProvisioningStatus.PENDING
    assert enqueued == [("access_group_sync_task", (world.group.pk,))]

    assert run_task(tasks.access_group_sync_task, world.group.pk) == "in_sync"
    assert world.prod.account_id in {a for a, _ in ic.assignments(world.group_id)}
    link.refresh_from_db()
    assert link.provisioning_status == ProvisioningStatus.IN_SYNC
    scan()
    assert DriftFinding.objects.open().count() == 0
    assert DriftFinding.objects.count() == 1


# --- permission set -------------------------------------------------------------------------


def test_permission_set_contents_changed_outside_are_found_and_synced_back(ic, world, enqueued):
    tamper_with_permission_set(ic, world.arn)

    scan()

    finding = DriftFinding.objects.get()
    assert finding.kind == DriftKind.PERMISSION_SET_CHANGED
    assert (finding.principal, finding.account_id) == ("", "")
    for words in (
        "session duration PT12H instead of PT1H",
        f"AWS managed policy {POWER_USER} attached outside the portal",
        "customer managed policy /team/extra attached outside the portal",
        "an inline policy the access group does not have",
    ):
        assert words in finding.detail, finding.detail
    assert finding.resolution == DriftResolution.REVERTED
    assert enqueued == [("access_group_sync_task", (world.group.pk,))]

    assert run_task(tasks.access_group_sync_task, world.group.pk) == "in_sync"
    held = ic.permission_set(world.arn)
    assert held["managed"] == {"arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert (held["customer"], held["inline"], held["session_duration"]) == (set(), None, "PT1H")
    scan()
    assert DriftFinding.objects.open().count() == 0


def test_a_permission_set_deleted_outside_is_one_finding_and_made_again(ic, world, enqueued):
    old_arn = world.arn
    for account in (world.sandbox, world.prod):
        ic.sso.delete_account_assignment(
            InstanceArn=ic.instance_arn,
            TargetId=account.account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=world.arn,
            PrincipalType="GROUP",
            PrincipalId=world.group_id,
        )
    ic.delete_permission_set(world.arn)

    scan()

    finding = DriftFinding.objects.get()
    assert finding.kind == DriftKind.PERMISSION_SET_CHANGED
    assert "it no longer exists in Identity Center" in finding.detail
    assert enqueued == [("access_group_sync_task", (world.group.pk,))]
    assert run_task(tasks.access_group_sync_task, world.group.pk) == "in_sync"
    world.group.refresh_from_db()
    assert world.group.permission_set_arn != old_arn
    assert len(ic.assignments(world.group_id)) == 2
    scan()
    assert DriftFinding.objects.count() == 1


def test_a_removed_policy_is_missing(ic, world):
    ic.sso.detach_managed_policy_from_permission_set(
        InstanceArn=ic.instance_arn,
        PermissionSetArn=world.arn,
        ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    scan(drift.REPORT)
    finding = DriftFinding.objects.get()
    assert "AWS managed policy arn:aws:iam::aws:policy/ReadOnlyAccess missing" in finding.detail


def test_the_inline_policy_is_compared_with_what_provisioning_wants(ic, world, monkeypatch):
    # The scan asks inline_policies.wanted_inline_policy, the one answer provisioning gives.
    wanted = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    monkeypatch.setattr(
        "provisioning.drift_compare.wanted_inline_policy", lambda group, policies=None: wanted
    )
    scan(drift.REPORT)
    finding = DriftFinding.objects.get()
    assert "no inline policy, where the access group has one" in finding.detail

    ic.sso.put_inline_policy_to_permission_set(
        InstanceArn=ic.instance_arn, PermissionSetArn=world.arn, InlinePolicy=json.dumps(wanted)
    )
    scan(drift.REPORT)
    finding.refresh_from_db()
    assert finding.resolution == DriftResolution.GONE


# --- report only, and gone ------------------------------------------------------------------


def test_report_only_reports_each_kind_and_changes_nothing(ic, world, aws_calls, enqueued):
    outsider = ic.create_user("mallory")
    ic.add_member(world.group_id, outsider)
    ic.assign(world.other.account_id, world.arn, world.group_id)
    ic.sso.delete_account_assignment(
        InstanceArn=ic.instance_arn,
        TargetId=world.prod.account_id,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=world.arn,
        PrincipalType="GROUP",
        PrincipalId=world.group_id,
    )
    alice_membership = ic.ids.get_group_membership_id(
        IdentityStoreId=ic.store,
        GroupId=world.group_id,
        MemberId={"UserId": world.alice.identity_center_user_id},
    )["MembershipId"]
    ic.ids.delete_group_membership(IdentityStoreId=ic.store, MembershipId=alice_membership)
    tamper_with_permission_set(ic, world.arn)
    before = (
        ic.members(world.group_id),
        ic.assignments(world.group_id),
        ic.permission_set(world.arn),
    )
    aws_calls.clear()

    result = scan(drift.REPORT)

    assert open_findings() == sorted(
        [
            (DriftKind.UNEXPECTED_MEMBER, f"USER {outsider}", ""),
            (DriftKind.MISSING_MEMBER, "alice", ""),
            (DriftKind.UNEXPECTED_ASSIGNMENT, "ReadOnly", world.other.account_id),
            (DriftKind.MISSING_ASSIGNMENT, "ReadOnly", world.prod.account_id),
            (DriftKind.PERMISSION_SET_CHANGED, "", ""),
        ]
    )
    assert sum(result.new.values()) == 5 and sum(result.reverted.values()) == 0
    assert aws_calls.writes() == []
    assert enqueued == []
    after = (
        ic.members(world.group_id),
        ic.assignments(world.group_id),
        ic.permission_set(world.arn),
    )
    assert after == before
    assert actions() == ["drift.detected"] * 5
    world.membership.refresh_from_db()
    assert world.membership.provisioning_status == ProvisioningStatus.IN_SYNC

    # Seen again: nothing new.
    again = scan(drift.REPORT)
    assert sum(again.new.values()) == 0 and sum(again.still_open.values()) == 5
    assert DriftFinding.objects.count() == 5
    assert actions() == ["drift.detected"] * 5


def test_drift_undone_outside_is_resolved_as_gone(ic, world):
    outsider = ic.create_user("mallory")
    membership_id = ic.add_member(world.group_id, outsider)
    scan(drift.REPORT)
    assert open_findings() == [(DriftKind.UNEXPECTED_MEMBER, f"USER {outsider}", "")]

    ic.ids.delete_group_membership(IdentityStoreId=ic.store, MembershipId=membership_id)
    result = scan(drift.REPORT)

    finding = DriftFinding.objects.get()
    assert (finding.resolution, finding.is_open) == (DriftResolution.GONE, False)
    assert result.gone[DriftKind.UNEXPECTED_MEMBER] == 1
    assert actions() == ["drift.detected", "drift.resolved"]
    # The same drift coming back is a new finding.
    ic.add_member(world.group_id, outsider)
    scan(drift.REPORT)
    assert DriftFinding.objects.count() == 2
    assert DriftFinding.objects.open().count() == 1


def test_findings_of_an_archived_group_are_gone(ic, world, dave):
    ic.add_member(world.group_id, ic.create_user("mallory"))
    scan(drift.REPORT)
    AccessGroup.objects.filter(pk=world.group.pk).update(archived_at=timezone.now())

    scan(drift.REPORT)

    finding = DriftFinding.objects.get()
    assert finding.resolution == DriftResolution.GONE
    assert AuditEvent.objects.get(action="drift.resolved").data["how"] == "access group archived"
