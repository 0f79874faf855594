"""The claiming protocol: one worker per row, generations, stale claims, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access.tasks import memberships_expire_task
from accessgroups.models import Membership, ProvisioningStatus, User
from provisioning import tasks
from provisioning.identity_center import Outcome, claim, complete, lease_length, provision
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_row_claimed_by_another_worker_is_left_alone(ic, aws_calls, alice):
    User.objects.filter(pk=alice.pk).update(
        provisioning_status=ProvisioningStatus.PROVISIONING, claimed_at=timezone.now()
    )

    assert run_task(tasks.user_onboard_task, alice.pk) == "skipped"

    assert aws_calls.calls == []
    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PROVISIONING


def test_claim_of_a_dead_worker_is_taken_over(ic, alice):
    User.objects.filter(pk=alice.pk).update(
        provisioning_status=ProvisioningStatus.PROVISIONING,
        claimed_at=timezone.now() - lease_length() - timedelta(seconds=1),
    )

    c = claim(User, alice.pk)

    assert c is not None and c.interrupted
    assert claim(User, alice.pk) is None  # and now it is ours alone


def test_two_claims_of_one_row_only_one_wins(ic, alice):
    first, second = claim(User, alice.pk), claim(User, alice.pk)

    assert first is not None and second is None


def test_complete_only_marks_the_claimed_generation(ic, alice):
    c = claim(User, alice.pk)
    User.objects.filter(pk=alice.pk).update(generation=c.generation + 1)

    assert complete(c) is False

    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PENDING
    assert alice.synced_generation == 0
    assert alice.claimed_at is None


def test_successful_run_records_when(ic, alice):
    run_task(tasks.user_onboard_task, alice.pk)

    alice.refresh_from_db()
    assert alice.claimed_at is None
    assert alice.provisioned_at is not None
    assert alice.synced_generation == alice.generation


def test_a_bug_in_the_work_releases_the_row_for_a_retry_and_is_logged(ic, alice, caplog):
    def broken(_):
        raise KeyError("oops")

    result = provision(User, alice.pk, broken)

    assert result.outcome is Outcome.RETRY
    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PENDING
    assert alice.claimed_at is None
    assert "internal error (KeyError)" in alice.last_error
    assert "oops" not in alice.last_error  # the details go to the log, not the page
    logged = [r for r in caplog.records if r.exc_info and "internal error" in r.getMessage()]
    assert logged and "oops" in str(logged[0].exc_info[1])


def test_a_worker_shutting_down_mid_run_releases_the_row(ic, alice):
    def interrupted(_):
        raise SystemExit(1)

    with pytest.raises(SystemExit):
        provision(User, alice.pk, interrupted)

    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PENDING
    assert alice.claimed_at is None and alice.due_at is not None


def test_a_run_longer_than_the_lease_keeps_its_row(ic, alice, settings):
    import threading

    settings.PROVISIONING_LEASE_SECONDS = 1
    inside = threading.Event()
    seen = []

    def slow(c):
        inside.set()
        # Three lease lengths: without renewal the claim would be stale, and taken over.
        for _ in range(6):
            threading.Event().wait(0.5)
            seen.append(claim(User, alice.pk))

    assert provision(User, alice.pk, slow).outcome is Outcome.IN_SYNC
    assert inside.is_set() and seen and all(c is None for c in seen)


def test_a_dead_workers_row_is_taken_over_once_the_lease_runs_out(ic, alice, settings):
    settings.PROVISIONING_LEASE_SECONDS = 1
    first = claim(User, alice.pk)
    assert first is not None and claim(User, alice.pk) is None

    # The worker died: nobody renews. After the lease, another run takes the row.
    User.objects.filter(pk=alice.pk).update(claimed_at=timezone.now() - timedelta(seconds=2))
    second = claim(User, alice.pk)

    assert second is not None and second.interrupted


def test_missing_row_is_skipped(ic):
    assert provision(User, 999_999, lambda c: None).outcome is Outcome.SKIPPED


def test_expiry_task_ends_expired_memberships_and_enqueues_their_sync(
    ic, alice, dave, make_group, enqueued
):
    from accessgroups.access.services import membership_grant

    group = make_group("ReadOnly")
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="x", duration_hours=1
    )
    past = timezone.now() - timedelta(hours=3)
    Membership.objects.filter(pk=membership.pk).update(
        granted_at=past, activated_at=past, expires_at=past + timedelta(hours=1)
    )
    enqueued.clear()

    assert run_task(memberships_expire_task) == 1

    membership.refresh_from_db()
    assert membership.ended_at is not None
    assert enqueued == [("membership_sync_task", (membership.pk,))]
