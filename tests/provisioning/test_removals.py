"""Ending access never gives up: a removal is retried, whatever the error, until it is done."""

from __future__ import annotations

import pytest

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_revoke,
)
from accessgroups.models import Membership, ProvisioningStatus
from accessgroups.reports.selectors import who_has_access
from provisioning import tasks
from provisioning.errors import TransientError
from tests.provisioning.conftest import Inject, run_task

pytestmark = pytest.mark.django_db(transaction=True)

DELETE = "before-send.identitystore.DeleteGroupMembership"


@pytest.fixture
def granted(ic, make_group, make_account, alice, bob):
    group = make_group("ReadOnly", accounts=[make_account("sandbox")], approvers=[bob])
    run_task(tasks.access_group_sync_task, group.pk)
    group.refresh_from_db()
    request = access_request_approve(
        access_request=access_request_create(requester=alice, access_group=group, justification="x"),
        approver=bob,
    )
    assert run_task(tasks.membership_sync_task, request.membership_id) == "in_sync"
    membership = Membership.objects.get(pk=request.membership_id)
    assert len(ic.members(group.identity_center_group_id)) == 1
    return membership


def _revoke(membership: Membership, by) -> Membership:
    membership_revoke(membership=membership, revoked_by=by)
    membership.refresh_from_db()
    return membership


def test_a_refused_removal_is_not_failed_and_stays_in_the_report(ic, register, granted, bob):
    register(DELETE, Inject(times=1000, code="AccessDeniedException", status=403))
    membership = _revoke(granted, bob)

    # Called directly, Celery's retry re-raises the error instead of scheduling it.
    with pytest.raises(TransientError, match="may not call identitystore:DeleteGroupMembership"):
        tasks.membership_sync_task.run(membership.pk)

    membership.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert "will be retried until it succeeds" in membership.last_error
    rows = list(who_has_access())
    assert [(r["username"], r["state"]) for r in rows] == [("alice", "removal_pending")]
    assert rows[0]["last_error"] == membership.last_error
    assert len(ic.members(granted.access_group.identity_center_group_id)) == 1


def test_a_removal_refused_for_a_while_completes_without_an_admin(
    ic, register, granted, bob, monkeypatch
):
    refusals = Inject(times=3, code="AccessDeniedException", status=403)
    register(DELETE, refusals)
    countdowns = []
    real = tasks.backoff
    monkeypatch.setattr(tasks, "backoff", lambda n, cap=tasks.BACKOFF_CAP_SECONDS: countdowns.append(
        (real(n, cap), cap)) or countdowns[-1][0])
    membership = _revoke(granted, bob)

    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"

    assert refusals.answered == 3
    assert [cap for _, cap in countdowns] == [tasks.REMOVAL_BACKOFF_CAP_SECONDS] * 3
    assert ic.members(granted.access_group.identity_center_group_id) == []
    assert list(who_has_access()) == []


def test_a_removal_keeps_trying_past_the_retry_limit_of_grants(ic, register, granted, bob):
    register(DELETE, Inject(times=1))  # throttled beyond botocore's own attempts once
    membership = _revoke(granted, bob)

    # Already past the limit at which a grant would be failed.
    result = tasks.membership_sync_task.apply(args=[membership.pk], retries=tasks.MAX_RETRIES + 5)

    assert result.get() == "in_sync"
    assert ic.members(granted.access_group.identity_center_group_id) == []


def test_removal_backoff_is_capped_at_five_minutes():
    for retries in (10, 20, 100, 10_000):
        assert tasks.backoff(retries, tasks.REMOVAL_BACKOFF_CAP_SECONDS) <= 300


def test_an_unexpected_error_in_a_grant_is_retried_not_left_pending(
    ic, granted, monkeypatch, erin, dave
):
    from accessgroups.access.services import membership_grant

    group = granted.access_group
    membership = membership_grant(user=erin, access_group=group, granted_by=dave, justification="x")
    from provisioning import memberships

    real, calls = memberships._ensure_member, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database connection reset")
        return real(*args, **kwargs)

    monkeypatch.setattr(memberships, "_ensure_member", flaky)

    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"
    assert len(calls) == 2
    assert len(ic.members(group.identity_center_group_id)) == 2
