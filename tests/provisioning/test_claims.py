"""The claiming protocol: one worker per row, generations, stale claims, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access.tasks import memberships_expire_task
from accessgroups.models import Membership, ProvisioningStatus, User
from provisioning import tasks
from provisioning.identity_center import STALE_CLAIM_AFTER, Outcome, claim, complete, provision
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
        claimed_at=timezone.now() - STALE_CLAIM_AFTER - timedelta(seconds=1),
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


def test_a_bug_in_the_work_releases_the_row_and_surfaces(ic, alice):
    def broken(_):
        raise KeyError("oops")

    with pytest.raises(KeyError):
        provision(User, alice.pk, broken)

    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PENDING
    assert alice.claimed_at is None
    assert "internal error" in alice.last_error


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
