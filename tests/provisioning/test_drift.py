"""The drift scan against moto in-process: each kind of outside change found, reverted (or
only reported), and resolved as gone once it is no longer there.

Outside changes are made with the test's own boto3 clients (``ic``), as someone in the
Identity Center console would; the portal only sees them by scanning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access.services import membership_grant
from accessgroups.drift.services import drift_scan_claim, drift_scan_finish
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    Account,
    AuditEvent,
    DriftFinding,
    DriftKind,
    DriftResolution,
    DriftScan,
    Membership,
    ProvisioningStatus,
    User,
)
from provisioning import drift, tasks
from tests.provisioning.conftest import Inject, run_task

pytestmark = pytest.mark.django_db(transaction=True)

POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"


@dataclass
class World:
    group: AccessGroup
    alice: User
    sandbox: Account
    prod: Account
    other: Account
    membership: Membership

    @property
    def group_id(self) -> str:
        return self.group.identity_center_group_id

    @property
    def arn(self) -> str:
        return self.group.permission_set_arn


@pytest.fixture
def world(ic, aws_calls, enqueued, make_group, make_account, alice, dave) -> World:
    """ReadOnly granting sandbox and prod, alice in it, all provisioned; other is an account
    the group does not grant."""
    sandbox, prod, other = make_account("sandbox"), make_account("prod"), make_account("other")
    group = make_group("ReadOnly", accounts=[sandbox, prod])
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="on call"
    )
    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"
    group.refresh_from_db()
    alice.refresh_from_db()
    enqueued.clear()
    aws_calls.clear()
    return World(group, alice, sandbox, prod, other, membership)


def scan(policy: str = drift.REVERT) -> drift.ScanResult:
    result = drift.drift_scan(policy=policy)
    assert result is not None
    assert not result.error, result.error
    assert not result.unreadable, result.unreadable
    return result


def open_findings() -> list[tuple[str, str, str]]:
    return sorted((f.kind, f.principal, f.account_id) for f in DriftFinding.objects.open())


def actions(prefix: str = "drift.") -> list[str]:
    return list(
        AuditEvent.objects.filter(action__startswith=prefix)
        .order_by("sequence")
        .values_list("action", flat=True)
    )


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


def tamper_with_permission_set(ic, arn: str) -> None:
    common = {"InstanceArn": ic.instance_arn, "PermissionSetArn": arn}
    ic.sso.attach_managed_policy_to_permission_set(ManagedPolicyArn=POWER_USER, **common)
    ic.sso.attach_customer_managed_policy_reference_to_permission_set(
        CustomerManagedPolicyReference={"Name": "extra", "Path": "/team/"}, **common
    )
    ic.sso.put_inline_policy_to_permission_set(
        InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": []}), **common
    )
    ic.sso.update_permission_set(SessionDuration="PT12H", **common)


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


# --- what is not drift ----------------------------------------------------------------------


def test_rows_being_provisioned_are_left_to_their_tasks(ic, world, make_user, dave, enqueued):
    # A grant not provisioned yet: its member is not missing.
    frank = make_user("frank")
    membership_grant(user=frank, access_group=world.group, granted_by=dave, justification="x")
    # A revocation not provisioned yet: alice still being a member is not drift either.
    Membership.objects.filter(pk=world.membership.pk).update(
        ended_at=timezone.now(), provisioning_status=ProvisioningStatus.PENDING
    )
    # A new account not assigned yet, and outside changes to a group being synced.
    AccessGroupAccount.objects.create(access_group=world.group, account=world.other)
    AccessGroup.objects.filter(pk=world.group.pk).update(
        provisioning_status=ProvisioningStatus.PENDING
    )
    tamper_with_permission_set(ic, world.arn)
    enqueued.clear()

    scan()

    assert DriftFinding.objects.count() == 0
    assert enqueued == []


def test_a_finding_is_not_resolved_while_its_row_is_being_provisioned(ic, world):
    ic.add_member(world.group_id, ic.create_user("mallory"))
    ic.sso.update_permission_set(
        InstanceArn=ic.instance_arn, PermissionSetArn=world.arn, SessionDuration="PT8H"
    )
    scan(drift.REPORT)
    assert DriftFinding.objects.open().count() == 2
    AccessGroup.objects.filter(pk=world.group.pk).update(
        provisioning_status=ProvisioningStatus.PENDING
    )

    scan(drift.REPORT)

    # The permission set was not compared (its group is being synced); the member was.
    assert open_findings() == sorted(
        [
            (DriftKind.PERMISSION_SET_CHANGED, "", ""),
            (
                DriftKind.UNEXPECTED_MEMBER,
                DriftFinding.objects.get(kind=DriftKind.UNEXPECTED_MEMBER).principal,
                "",
            ),
        ]
    )


def test_archived_and_unprovisioned_groups_are_not_scanned(ic, world, make_group, aws_calls):
    make_group("NotYet")  # never provisioned: no ids
    AccessGroup.objects.filter(pk=world.group.pk).update(archived_at=timezone.now())

    result = scan()

    assert result.groups == 0
    assert aws_calls.count("ListGroupMemberships") == 0


# --- one scan at a time, and errors ---------------------------------------------------------


def test_only_one_scan_runs_at_a_time(world, aws_calls):
    running = drift_scan_claim(policy=drift.REVERT)
    assert running is not None

    assert drift.drift_scan(policy=drift.REVERT) is None
    assert aws_calls.calls == []
    assert run_task(tasks.drift_scan_task, None) == "skipped"

    drift_scan_finish(scan=running, groups_scanned=0, summary={})
    assert drift.drift_scan(policy=drift.REVERT) is not None


def test_a_scan_whose_worker_died_is_taken_over(world):
    dead = drift_scan_claim(policy=drift.REVERT)
    DriftScan.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    assert drift.drift_scan(policy=drift.REVERT) is not None

    dead.refresh_from_db()
    assert not dead.running and dead.error.startswith("Abandoned")


def test_a_running_scan_notes_that_it_is_alive(ic, world, monkeypatch):
    monkeypatch.setattr(drift, "HEARTBEAT_SECONDS", 0.0)
    ic.add_member(world.group_id, ic.create_user("mallory"))

    scan()

    row = DriftScan.objects.get()
    assert row.heartbeat_at > row.started_at


def test_a_group_that_cannot_be_read_keeps_its_findings_and_is_named(ic, world, register):
    ic.add_member(world.group_id, ic.create_user("mallory"))
    scan(drift.REPORT)
    register("before-send.identitystore.ListGroupMemberships", Inject(99, "AccessDeniedException"))

    result = drift.drift_scan(policy=drift.REPORT)

    assert result is not None and result.groups == 0
    assert "ReadOnly" in result.unreadable
    assert "ListGroupMemberships" in result.unreadable["ReadOnly"]
    assert DriftFinding.objects.open().count() == 1
    assert DriftScan.objects.order_by("-pk").first().summary["unreadable"] == result.unreadable


def test_the_task_runs_a_scan_with_the_configured_policy(ic, world, settings):
    settings.DRIFT_POLICY = "report"
    ic.add_member(world.group_id, ic.create_user("mallory"))

    assert run_task(tasks.drift_scan_task, None) == "in_sync"

    assert DriftFinding.objects.open().count() == 1
    assert DriftScan.objects.get().policy == "report"


# --- the command ----------------------------------------------------------------------------


def test_the_command_scans_and_prints_a_summary_per_kind(ic, world):
    from io import StringIO

    from django.core.management import call_command

    ic.add_member(world.group_id, ic.create_user("mallory"))
    out = StringIO()

    call_command("drift_scan", "--policy", "report", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "Drift scan (report): 1 access group compared."
    assert lines[1].split() == ["kind", "new", "still", "open", "reverted", "gone"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:7]}
    assert rows["unexpected_member"] == ["1", "0", "0", "0"]
    assert rows["missing_member"] == ["0", "0", "0", "0"]
    assert DriftFinding.objects.open().count() == 1

    out = StringIO()
    call_command("drift_scan", stdout=out)  # DRIFT_POLICY: revert
    rows = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[2:7]}
    assert rows["unexpected_member"] == ["0", "1", "1", "0"]
    assert DriftFinding.objects.open().count() == 0


def test_the_command_says_when_another_scan_is_running(world):
    from io import StringIO

    from django.core.management import call_command

    drift_scan_claim(policy=drift.REVERT)
    out = StringIO()
    call_command("drift_scan", stdout=out)
    assert out.getvalue() == "Another drift scan is running; nothing done.\n"
