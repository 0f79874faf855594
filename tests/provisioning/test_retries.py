"""Transient errors are retried (by botocore first, then by Celery); permanent ones are recorded."""

from __future__ import annotations

import pytest

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    Membership,
    ProvisioningStatus,
    RequestStatus,
)
from provisioning import tasks
from provisioning.errors import TransientError
from tests.provisioning.conftest import Inject, run_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group(ic, make_group, make_account, bob):
    return make_group(
        "ReadOnly", accounts=[make_account("sandbox"), make_account("staging")], approvers=[bob]
    )


@pytest.fixture
def request_for_alice(ic, group, alice, bob):
    run_task(tasks.access_group_sync_task, group.pk)
    request = access_request_create(requester=alice, access_group=group, justification="on call")
    return access_request_approve(access_request=request, approver=bob)


def test_short_throttling_is_absorbed_by_botocore_without_duplicates(
    ic, aws_calls, register, group
):
    throttle = Inject(times=2)  # the third attempt of the first creation goes through
    register("before-send.sso-admin.CreateAccountAssignment", throttle)

    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"

    group.refresh_from_db()
    assert throttle.answered == 2
    assert throttle.attempts == 4  # 3 for the first account, 1 for the second
    assert aws_calls.count("CreateAccountAssignment") == 2  # one API call per account
    assigned = ic.assignments(group.identity_center_group_id)
    assert len(assigned) == len(set(assigned)) == 2


def test_throttling_that_outlasts_botocore_leaves_the_row_pending_for_a_retry(
    ic, aws_calls, register, request_for_alice, settings
):
    throttle = Inject(times=1000)
    register("before-send.identitystore.CreateGroupMembership", throttle)
    membership_id = request_for_alice.membership_id

    with pytest.raises(TransientError, match="throttling"):
        # Called directly, Celery's retry re-raises the error instead of scheduling.
        tasks.membership_sync_task.run(membership_id)

    assert throttle.attempts == settings.AWS_MAX_ATTEMPTS
    membership = Membership.objects.get(pk=membership_id)
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert "AWS is throttling identitystore calls" in membership.last_error
    assert AccessRequest.objects.get(pk=request_for_alice.pk).status == RequestStatus.PROVISIONING


def test_celery_retry_after_throttling_succeeds_without_duplicates(
    ic, aws_calls, register, request_for_alice, settings, monkeypatch
):
    countdowns = []
    real_backoff = tasks.backoff
    monkeypatch.setattr(
        tasks, "backoff", lambda n: countdowns.append(real_backoff(n)) or countdowns[-1]
    )
    throttle = Inject(times=settings.AWS_MAX_ATTEMPTS)  # the whole first task run is throttled
    register("before-send.identitystore.CreateGroupMembership", throttle)

    assert run_task(tasks.membership_sync_task, request_for_alice.membership_id) == "in_sync"

    assert (
        len(countdowns) == 1
        and tasks.BACKOFF_BASE_SECONDS / 2 <= countdowns[0] <= tasks.BACKOFF_BASE_SECONDS
    )
    group = AccessGroup.objects.get(pk=request_for_alice.access_group_id)
    assert len(ic.members(group.identity_center_group_id)) == 1
    assert AccessRequest.objects.get(pk=request_for_alice.pk).status == RequestStatus.ACTIVE


def test_retries_exhausted_fail_the_row_and_the_request(ic, register, request_for_alice):
    register("before-send.identitystore.CreateGroupMembership", Inject(times=1000))
    membership_id = request_for_alice.membership_id

    result = tasks.membership_sync_task.apply(args=[membership_id], retries=tasks.MAX_RETRIES)

    assert result.get() == "failed"
    membership = Membership.objects.get(pk=membership_id)
    assert membership.provisioning_status == ProvisioningStatus.FAILED
    assert membership.last_error.startswith(
        f"Gave up after {tasks.MAX_RETRIES} retries. Last error: AWS is throttling"
    )
    request = AccessRequest.objects.get(pk=request_for_alice.pk)
    assert (request.status, request.last_error) == (RequestStatus.FAILED, membership.last_error)


def test_access_denied_is_permanent_recorded_and_not_retried(ic, aws_calls, register, group):
    denied = Inject(times=1000, code="AccessDeniedException", status=403)
    register("before-send.identitystore.CreateGroup", denied)

    assert run_task(tasks.access_group_sync_task, group.pk) == "failed"

    assert denied.attempts == 1
    group.refresh_from_db()
    assert group.provisioning_status == ProvisioningStatus.FAILED
    assert "may not call identitystore:CreateGroup" in group.last_error
    assert "Allow it in the IAM policy" in group.last_error
    assert aws_calls.count("CreatePermissionSet") == 0


def test_server_error_is_transient(ic, register, group):
    register(
        "before-send.sso-admin.CreatePermissionSet",
        Inject(times=1000, code="InternalServerException", status=500),
    )

    with pytest.raises(TransientError, match="could not complete CreatePermissionSet"):
        tasks.access_group_sync_task.run(group.pk)

    group.refresh_from_db()
    assert group.provisioning_status == ProvisioningStatus.PENDING
    assert "will retry" in group.last_error


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for retries in range(12):
        ceiling = min(tasks.BACKOFF_CAP_SECONDS, tasks.BACKOFF_BASE_SECONDS * 2**retries)
        samples = {tasks.backoff(retries) for _ in range(50)}
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(samples) > 1


def test_giving_up_leaves_a_row_changed_meanwhile_to_its_new_run(
    ic, register, request_for_alice, monkeypatch
):
    from provisioning import memberships

    membership_id = request_for_alice.membership_id
    run = memberships.membership_sync

    def sync_then_change(**kwargs):
        result = run(**kwargs)
        # The workflow changes the row (e.g. a revoke) after this run's last transient error.
        Membership.objects.filter(pk=membership_id).update(generation=result.claim.generation + 1)
        return result

    monkeypatch.setattr(tasks, "membership_sync", sync_then_change)
    register("before-send.identitystore.CreateGroupMembership", Inject(times=1000))

    tasks.membership_sync_task.apply(args=[membership_id], retries=tasks.MAX_RETRIES)

    membership = Membership.objects.get(pk=membership_id)
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert AccessRequest.objects.get(pk=request_for_alice.pk).status == RequestStatus.PROVISIONING
