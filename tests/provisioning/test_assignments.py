"""Asynchronous account assignments: polling, failures, and the pipeline under AWS's limits."""

from __future__ import annotations

import time

import pytest

from accessgroups.catalogue.services import access_group_update
from accessgroups.models import AccessGroup, AccessGroupAccount, ProvisioningStatus
from bench.ic_timing import max_in_window, moto_permission_set_provisioning
from provisioning import limits, permission_sets, tasks
from tests.provisioning.conftest import AssignmentTiming, run_task

pytestmark = pytest.mark.django_db(transaction=True)


def make_group_with(make_group, make_account, n: int, name: str = "Fleet"):
    return make_group(name, accounts=[make_account() for _ in range(n)])


def test_creation_in_progress_is_polled_until_it_succeeds(
    ic, aws_calls, register, make_group, make_account
):
    group = make_group_with(make_group, make_account, 3)
    timing = AssignmentTiming(hold=1.2)
    for name, handler in timing.handlers():
        register(name, handler)

    started = time.monotonic()
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"

    assert time.monotonic() - started >= 1.2
    assert len(timing.intervals) == 3
    # The first check waits about a second; none comes sooner.
    for request_id, polls in timing.polls.items():
        created = timing.ready_at[request_id] - timing.hold
        assert polls[0] - created >= 0.9
        assert len(polls) <= 3
    assert {
        link.provisioning_status for link in AccessGroupAccount.objects.filter(access_group=group)
    } == {ProvisioningStatus.IN_SYNC}


def test_failed_creation_marks_its_account_and_the_group_failed_with_the_reason(
    ic, register, make_group, make_account
):
    group = make_group_with(make_group, make_account, 3)
    bad = group.current_accounts().order_by("account_id")[1]
    timing = AssignmentTiming(
        hold=0.2, fail_accounts={bad.account_id: "Role creation failed: quota exceeded"}
    )
    for name, handler in timing.handlers():
        register(name, handler)

    assert run_task(tasks.access_group_sync_task, group.pk) == "failed"

    group.refresh_from_db()
    assert group.provisioning_status == ProvisioningStatus.FAILED
    assert group.last_error.startswith("1 of 3 account assignment changes of Fleet failed:")
    assert (
        f"account {bad.account_id} ({bad.name}): Role creation failed: quota exceeded"
        in group.last_error
    )
    links = {
        link.account_id: link for link in AccessGroupAccount.objects.filter(access_group=group)
    }
    assert links[bad.pk].provisioning_status == ProvisioningStatus.FAILED
    assert links[bad.pk].last_error == (
        f"Assigning Fleet in account {bad.account_id} ({bad.name}) failed: Role creation failed: quota exceeded"
    )
    others = [link for pk, link in links.items() if pk != bad.pk]
    assert {link.provisioning_status for link in others} == {ProvisioningStatus.IN_SYNC}


def test_deletion_in_progress_is_polled_too(
    ic, aws_calls, register, dave, make_group, make_account
):
    group = make_group_with(make_group, make_account, 2)
    run_task(tasks.access_group_sync_task, group.pk)
    group.refresh_from_db()
    ready_at = {}

    def hold_delete(parsed, **_):
        status = parsed["AccountAssignmentDeletionStatus"]
        ready_at[status["RequestId"]] = time.monotonic() + 0.5
        status["Status"] = "IN_PROGRESS"

    def describe_delete(parsed, **_):
        status = parsed["AccountAssignmentDeletionStatus"]
        if time.monotonic() < ready_at[status["RequestId"]]:
            status["Status"] = "IN_PROGRESS"

    register("after-call.sso-admin.DeleteAccountAssignment", hold_delete)
    register("after-call.sso-admin.DescribeAccountAssignmentDeletionStatus", describe_delete)
    kept = group.current_accounts().first()
    access_group_update(actor=dave, access_group=group, accounts=[kept.account_id])
    aws_calls.clear()

    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"

    assert aws_calls.count("DescribeAccountAssignmentDeletionStatus") >= 1
    assert [a for a, _ in ic.assignments(group.identity_center_group_id)] == [kept.account_id]


def test_pipeline_keeps_at_most_15_creations_outstanding_and_20_calls_a_second(
    ic, aws_calls, register, make_group, make_account
):
    group = make_group_with(make_group, make_account, 45)
    timing = AssignmentTiming(hold=0.6)
    for name, handler in timing.handlers():
        register(name, handler)

    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"

    assert len(timing.intervals) == 45
    # Pipelined, not one after another: many in flight at once, never more than AWS allows.
    assert 10 <= timing.max_outstanding() <= 15
    sso_admin = [t for t, service in aws_calls.attempt_times if service == "sso-admin"]
    assert max_in_window(sso_admin, 1.0) <= 20
    assert len(ic.assignments(AccessGroup.objects.get(pk=group.pk).identity_center_group_id)) == 45


def test_creation_slots_are_shared_with_the_rest_of_the_fleet(
    ic, register, make_group, make_account
):
    group = make_group_with(make_group, make_account, 6)
    timing = AssignmentTiming(hold=0.2)
    for name, handler in timing.handlers():
        register(name, handler)
    # Other workers hold 14 of the 15 slots.
    semaphore = limits.assignment_creation_semaphore()
    held = [semaphore.acquire(timeout=1) for _ in range(14)]
    try:
        assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    finally:
        for token in held:
            semaphore.release(token)

    assert timing.max_outstanding() == 1
    assert len(timing.intervals) == 6
    assert semaphore.held() == 0


def test_changed_permission_set_is_provisioned_and_its_progress_polled(
    ic, aws_calls, dave, make_group, make_account
):
    group = make_group_with(make_group, make_account, 2)
    run_task(tasks.access_group_sync_task, group.pk)
    access_group_update(actor=dave, access_group=group, session_duration="PT2H")
    aws_calls.clear()

    with moto_permission_set_provisioning(1.0):
        assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"

    assert aws_calls.count("ProvisionPermissionSet") == 1
    assert aws_calls.count("DescribePermissionSetProvisioningStatus") >= 1
    assert limits.permission_set_provision_semaphore().held() == 0


def test_provisioning_status_the_endpoint_cannot_answer_is_permanent(
    ic, aws_calls, register, dave, make_group, make_account
):
    group = make_group_with(make_group, make_account, 1)
    run_task(tasks.access_group_sync_task, group.pk)
    access_group_update(actor=dave, access_group=group, session_duration="PT2H")

    def in_progress(parsed, **_):
        parsed["PermissionSetProvisioningStatus"]["Status"] = "IN_PROGRESS"

    register("after-call.sso-admin.ProvisionPermissionSet", in_progress)
    assert run_task(tasks.access_group_sync_task, group.pk) == "failed"

    group.refresh_from_db()
    assert "DescribePermissionSetProvisioningStatus is not implemented" in group.last_error
    assert aws_calls.count("DescribePermissionSetProvisioningStatus") == 1


def test_no_free_provisioning_slot_is_transient(
    ic, aws_calls, dave, make_group, make_account, monkeypatch
):
    from provisioning.errors import TransientError

    group = make_group_with(make_group, make_account, 1)
    run_task(tasks.access_group_sync_task, group.pk)
    access_group_update(actor=dave, access_group=group, session_duration="PT2H")
    monkeypatch.setattr(permission_sets, "PROVISION_SLOT_TIMEOUT", 0.2)
    semaphore = limits.permission_set_provision_semaphore()
    held = [semaphore.acquire(timeout=1) for _ in range(3)]
    try:
        with pytest.raises(TransientError, match="Waiting for a free ProvisionPermissionSet slot"):
            tasks.access_group_sync_task.run(group.pk)
    finally:
        for token in held:
            semaphore.release(token)
    group.refresh_from_db()
    assert group.provisioning_status == ProvisioningStatus.PENDING
    # The interrupted run's push is not forgotten: the retry pushes even though the
    # permission set itself now matches.
    aws_calls.clear()
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    assert aws_calls.writes() == ["ProvisionPermissionSet"]


def test_unreachable_store_of_the_limits_is_transient(ic, make_group, make_account, monkeypatch):
    from provisioning.errors import TransientError

    group = make_group_with(make_group, make_account, 2)

    def unreachable(self):
        raise limits.LimiterUnavailable("the limits store (Redis) cannot be reached")

    monkeypatch.setattr(limits.Semaphore, "try_acquire", unreachable)

    with pytest.raises(TransientError, match="Waiting for the limits store"):
        tasks.access_group_sync_task.run(group.pk)

    group.refresh_from_db()
    assert group.provisioning_status == ProvisioningStatus.PENDING
