"""The dispatcher sends again what was lost: overdue rows, dead workers' rows, failed removals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access.services import membership_grant, membership_revoke
from accessgroups.access.tasks import provisioning_reconcile_task
from accessgroups.core import dispatch, sync
from accessgroups.models import AccessGroup, Membership, ProvisioningStatus, User
from tests.syncs import captured_syncs

pytestmark = pytest.mark.django_db

INTERVAL = timedelta(seconds=300)


@pytest.fixture
def rows(alice, erin, dave, readonly):
    granted = membership_grant(user=alice, access_group=readonly, granted_by=dave, justification="x")
    ended = membership_grant(user=erin, access_group=readonly, granted_by=dave, justification="y")
    Membership.objects.filter(pk=ended.pk).update(provisioning_status=ProvisioningStatus.IN_SYNC)
    membership_revoke(membership=ended, revoked_by=dave)
    # Everything in sync but these two memberships.
    User.objects.update(provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=1, generation=1)
    AccessGroup.objects.update(provisioning_status=ProvisioningStatus.IN_SYNC)
    return {"granted": granted, "ended": ended}


def _age(pk: int, **fields) -> None:
    Membership.objects.filter(pk=pk).update(**fields)


def test_rows_sent_moments_ago_are_left_to_their_task(rows):
    with captured_syncs() as sent:
        result = dispatch.dispatch_overdue(now=timezone.now(), interval=INTERVAL)
    assert sent == [] and result.total == 0


def test_overdue_rows_are_sent_again_removals_first(rows):
    old = timezone.now() - timedelta(minutes=5)
    _age(rows["granted"].pk, due_at=old)
    _age(rows["ended"].pk, due_at=old + timedelta(minutes=1))  # due later, but a removal

    with captured_syncs() as sent:
        result = dispatch.dispatch_overdue(now=timezone.now(), interval=INTERVAL)

    assert sent == [
        ("membership_sync_task", (rows["ended"].pk,)),
        ("membership_sync_task", (rows["granted"].pk,)),
    ]
    assert (result.total, result.removals) == (2, 1)
    # Due again from now: the next run leaves them to the task just sent.
    assert all(m.due_at > old for m in Membership.objects.all())
    with captured_syncs() as sent:
        dispatch.dispatch_overdue(now=timezone.now(), interval=INTERVAL)
    assert sent == []


def test_a_row_waiting_for_its_planned_retry_is_not_sent_early(rows):
    _age(rows["granted"].pk, due_at=timezone.now() + timedelta(minutes=8), last_error="Throttled")
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.IN_SYNC)

    with captured_syncs() as sent:
        dispatch.dispatch_overdue(now=timezone.now(), interval=INTERVAL)

    assert sent == []


def test_a_dead_workers_row_is_taken_over(rows, settings):
    now = timezone.now()
    lease = timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.IN_SYNC)
    _age(
        rows["granted"].pk,
        provisioning_status=ProvisioningStatus.PROVISIONING,
        claimed_at=now - lease - timedelta(seconds=1),
    )

    with captured_syncs() as sent:
        result = dispatch.dispatch_overdue(now=now, interval=INTERVAL)

    assert sent == [("membership_sync_task", (rows["granted"].pk,))]
    assert result.taken_over == 1


def test_a_lease_running_out_before_the_next_run_is_sent_for_that_moment(rows, monkeypatch):
    now = timezone.now()
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.IN_SYNC)
    _age(rows["granted"].pk, provisioning_status=ProvisioningStatus.PROVISIONING, claimed_at=now)
    countdowns = []
    monkeypatch.setattr(
        sync, "send_now", lambda task, *args, **options: countdowns.append(options) or True
    )

    result = dispatch.dispatch_overdue(now=now, interval=INTERVAL)

    assert result.taken_over == 0 and result.total == 1
    assert countdowns == [{"countdown": pytest.approx(61, abs=0.01)}]
    # A lease renewed moments ago that outlives the next run waits for that run.
    countdowns.clear()
    dispatch.dispatch_overdue(now=now, interval=timedelta(seconds=30))
    assert countdowns == []


def test_a_failed_removal_is_never_left_failed_but_a_failed_grant_is(rows):
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.FAILED, last_error="AccessDenied")
    _age(rows["granted"].pk, provisioning_status=ProvisioningStatus.FAILED, last_error="No such group")

    with captured_syncs() as sent:
        dispatch.dispatch_overdue(now=timezone.now() + timedelta(minutes=2), interval=INTERVAL)

    assert sent == [("membership_sync_task", (rows["ended"].pk,))]
    assert Membership.objects.get(pk=rows["ended"].pk).provisioning_status == ProvisioningStatus.PENDING
    assert Membership.objects.get(pk=rows["granted"].pk).provisioning_status == ProvisioningStatus.FAILED


def test_an_archived_groups_teardown_counts_as_a_removal(readonly):
    AccessGroup.objects.filter(pk=readonly.pk).update(archived_at=timezone.now())
    assert dispatch.is_removal(AccessGroup, readonly.pk)


def test_an_unsent_row_stays_due_for_the_next_run(rows, monkeypatch):
    old = timezone.now() - timedelta(minutes=5)
    _age(rows["granted"].pk, due_at=old)
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.IN_SYNC)
    monkeypatch.setattr(sync, "send_now", lambda *args, **options: False)

    result = dispatch.dispatch_overdue(now=timezone.now(), interval=INTERVAL)

    assert (result.total, result.unsent) == (0, 1)
    assert Membership.objects.get(pk=rows["granted"].pk).due_at == old


def test_the_beat_task_dispatches_and_reports(rows):
    _age(rows["granted"].pk, due_at=timezone.now() - timedelta(minutes=5))
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.IN_SYNC)
    with captured_syncs() as sent:
        summary = provisioning_reconcile_task.apply().get()
    assert sent == [("membership_sync_task", (rows["granted"].pk,))]
    assert summary == {
        "sent": 1, "removals": 0, "taken_over": 0, "unsent": 0, "activated": 0, "alert_mails": 0
    }


def test_a_membership_confirmed_but_never_activated_is_activated(rows, dave):
    from accessgroups.models import AccessRequest, RequestStatus

    # A worker killed between marking the row in sync and activating it.
    granted = rows["granted"]
    Membership.objects.filter(pk=granted.pk).update(
        provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=granted.generation
    )
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.IN_SYNC)

    with captured_syncs():
        summary = provisioning_reconcile_task.apply().get()

    assert summary["activated"] == 1
    granted.refresh_from_db()
    assert granted.activated_at is not None
    assert not AccessRequest.objects.filter(membership=granted).exclude(status=RequestStatus.ACTIVE).exists()
    with captured_syncs():
        assert provisioning_reconcile_task.apply().get()["activated"] == 0


def test_users_nobody_asked_to_onboard_are_never_sent(rows, make_user):
    stranger = make_user("stranger")  # e.g. a superuser made on the command line
    User.objects.filter(pk=stranger.pk).update(
        provisioning_status=ProvisioningStatus.PENDING, due_at=timezone.now() - timedelta(hours=1)
    )
    _age(rows["ended"].pk, provisioning_status=ProvisioningStatus.IN_SYNC)
    with captured_syncs() as sent:
        dispatch.dispatch_overdue(now=timezone.now(), interval=INTERVAL)
    assert sent == []
    assert next(b for b in dispatch.provisioning_backlog() if b.kind == "user").pending == 0

    User.objects.filter(pk=stranger.pk).update(onboarding_requested=True)
    with captured_syncs() as sent:
        dispatch.dispatch_overdue(now=timezone.now(), interval=INTERVAL)
    assert sent == [("user_onboard_task", (stranger.pk,))]
