"""The drift scan against moto in-process: what is not drift, one scan at a time, a scan that
cannot read, and the command.

Outside changes are made with the test's own boto3 clients (``ic``), as someone in the
Identity Center console would; the portal only sees them by scanning.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access.services import membership_grant
from accessgroups.drift.services import drift_scan_claim, drift_scan_finish
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    DriftFinding,
    DriftKind,
    DriftScan,
    Membership,
    ProvisioningStatus,
)
from provisioning import drift, tasks
from tests.provisioning.conftest import Inject, run_task
from tests.provisioning.drift_world import (
    World,
    open_findings,
    provisioned_world,
    scan,
    tamper_with_permission_set,
)

pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def world(ic, aws_calls, enqueued, make_group, make_account, alice, dave) -> World:
    return provisioned_world(aws_calls, enqueued, make_group, make_account, alice, dave)


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
