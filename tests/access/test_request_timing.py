"""A delayed start (``starts_at``) and pending requests that time out (decision 0017)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accessgroups.access import timing
from accessgroups.access.outcomes import membership_activated
from accessgroups.access.services import (
    access_request_approve,
    access_request_cancel,
    access_request_create,
)
from accessgroups.core.dispatch import dispatch_overdue
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import (
    AccessRequest,
    AuditEvent,
    Membership,
    ProvisioningStatus,
    RequestStatus,
)

HOUR = timedelta(hours=1)


def ask(requester, group, **fields):
    return access_request_create(requester=requester, access_group=group, justification="deploy", **fields)


def backdate(request, hours):
    AccessRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - hours * HOUR)


# --- starts_at ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-HOUR, "in the past"), (timedelta(days=30, minutes=1), "at most 30 days")],
)
def test_a_start_in_the_past_or_too_far_is_refused(alice, readonly, offset, reason):
    with pytest.raises(ValidationError) as exc:
        ask(alice, readonly, starts_at=timezone.now() + offset)
    assert reason in exc.value.message_dict["starts_at"][0]
    assert not AccessRequest.objects.exists()


def test_a_start_thirty_days_ahead_is_fine(alice, readonly):
    starts = timezone.now() + timedelta(days=30) - timedelta(minutes=1)
    request = ask(alice, readonly, starts_at=starts)
    assert request.starts_at == starts
    assert AuditEvent.objects.get(action="request.created").data["starts_at"] is not None


def test_a_start_seconds_ago_means_now(alice, readonly):
    request = ask(alice, readonly, starts_at=timezone.now() - timedelta(seconds=20))
    assert request.starts_at is None


def test_an_extension_cannot_be_delayed(alice, readonly, grant):
    # Access that ends: asking again is an extension (not a no-op).
    grant(alice, readonly, duration_hours=8, expires_at=timezone.now() + 2 * HOUR)
    with pytest.raises(ValidationError) as exc:
        ask(alice, readonly, starts_at=timezone.now() + HOUR)
    assert "starts_at" in exc.value.message_dict


def test_approval_writes_the_membership_but_provisions_nothing_before_the_start(
    alice, bob, limited, requested_syncs, django_capture_on_commit_callbacks
):
    starts = timezone.now() + 2 * HOUR
    request = ask(alice, limited, duration_hours=4, starts_at=starts)
    with django_capture_on_commit_callbacks(execute=True):
        approved = access_request_approve(access_request=request, approver=bob)

    assert approved.status == RequestStatus.APPROVED
    membership = approved.membership
    assert membership.activated_at is None and membership.expires_at is None
    assert membership.due_at == starts
    assert requested_syncs == []
    # The dispatcher does not send it early either: its due time is the start.
    dispatch_overdue(now=timezone.now() + HOUR, interval=timedelta(seconds=60))
    assert [name for name, _ in requested_syncs if name == "membership_sync_task"] == []
    assert timing.requests_start(now=starts - timedelta(seconds=1)) == 0


def test_the_start_task_provisions_once_and_expiry_counts_from_activation(
    alice, bob, limited, requested_syncs, django_capture_on_commit_callbacks
):
    starts = timezone.now() + 2 * HOUR
    request = ask(alice, limited, duration_hours=4, starts_at=starts)
    access_request_approve(access_request=request, approver=bob)

    with django_capture_on_commit_callbacks(execute=True):
        assert timing.requests_start(now=starts) == 1
        assert timing.requests_start(now=starts + timedelta(seconds=30)) == 0  # a second run

    request.refresh_from_db()
    assert request.status == RequestStatus.PROVISIONING
    assert requested_syncs == [("membership_sync_task", (request.membership_id,))]
    event = AuditEvent.objects.get(action="request.started")
    assert event.actor is None and event.data["membership"] == request.membership_id

    membership_activated(membership_id=request.membership_id)
    membership = Membership.objects.get(pk=request.membership_id)
    assert membership.expires_at == membership.activated_at + 4 * HOUR
    request.refresh_from_db()
    assert request.status == RequestStatus.ACTIVE


def test_the_requester_cancels_until_the_start(alice, bob, readonly, requested_syncs):
    request = ask(alice, readonly, starts_at=timezone.now() + HOUR)
    access_request_approve(access_request=request, approver=bob)

    cancelled = access_request_cancel(access_request=request, user=alice)

    assert cancelled.status == RequestStatus.CANCELLED
    membership = Membership.objects.get(pk=cancelled.membership_id)
    assert membership.ended_at is not None
    assert timing.requests_start(now=timezone.now() + 2 * HOUR) == 0


def test_auto_approval_waits_for_the_start_too(alice, make_group, requested_syncs):
    group = make_group("Docs", auto_approve=True)
    request = ask(alice, group, starts_at=timezone.now() + HOUR)
    assert request.status == RequestStatus.APPROVED
    assert request.membership.provisioning_status == ProvisioningStatus.PENDING
    assert timing.requests_start(now=timezone.now() + 2 * HOUR) == 1


def test_break_glass_ignores_the_start(alice, bob, make_group, requested_syncs):
    group = make_group("OnCall", approvers=[bob], break_glass=True)
    request = access_request_create(
        requester=alice,
        access_group=group,
        justification="production is down, incident 42",
        break_glass=True,
        starts_at=timezone.now() + HOUR,
    )
    assert request.starts_at is None
    assert request.status == RequestStatus.APPROVED
    assert request.membership.due_at <= timezone.now()


# --- timing out ---------------------------------------------------------------------------


def test_a_pending_request_times_out_after_the_ttl(alice, erin, readonly, settings):
    settings.PENDING_REQUEST_TTL_HOURS = 72
    old = ask(alice, readonly)
    backdate(old, 72)
    young = ask(erin, readonly)
    backdate(young, 71)

    assert timing.requests_time_out(now=timezone.now()) == 1
    assert timing.requests_time_out(now=timezone.now()) == 0

    old.refresh_from_db()
    young.refresh_from_db()
    assert old.status == RequestStatus.TIMED_OUT
    assert young.status == RequestStatus.PENDING
    event = AuditEvent.objects.get(action="request.timed_out")
    assert event.actor is None and event.object_id == str(old.pk)
    assert event.data["ttl_hours"] == 72


def test_a_timed_out_request_can_be_asked_again(alice, readonly):
    old = ask(alice, readonly)
    backdate(old, 80)
    timing.requests_time_out(now=timezone.now())

    again = ask(alice, readonly)
    assert again.status == RequestStatus.PENDING


def test_a_timed_out_request_cannot_be_approved(alice, bob, readonly):
    old = ask(alice, readonly)
    backdate(old, 80)
    timing.requests_time_out(now=timezone.now())

    with pytest.raises(InvalidTransition):
        access_request_approve(access_request=old, approver=bob)
    assert not Membership.objects.exists()


def test_approved_requests_do_not_time_out(alice, bob, readonly, requested_syncs):
    request = ask(alice, readonly)
    access_request_approve(access_request=request, approver=bob)
    backdate(request, 100)
    assert timing.requests_time_out(now=timezone.now()) == 0
