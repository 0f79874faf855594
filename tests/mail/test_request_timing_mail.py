"""Mail about requests that wait: reminders, time-outs, and notices that a request is closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accessgroups.access import tasks as access_tasks
from accessgroups.access.services import (
    access_request_approve,
    access_request_cancel,
    access_request_create,
    access_request_reject,
)
from accessgroups.mail import reminders
from accessgroups.models import AccessRequest, RequestStatus

HOUR = timedelta(hours=1)


def ask(requester, group, committed):
    with committed():
        return access_request_create(requester=requester, access_group=group, justification="deploy")


def backdate(request, hours):
    AccessRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - hours * HOUR)


def outbox():
    return sorted((m.to[0], m.subject) for m in mail.outbox)


# --- time-out -------------------------------------------------------------------------------


def test_the_requester_is_told_of_the_time_out_and_the_approvers_that_it_closed(
    alice, bob, readonly, committed, portal_url
):
    request = ask(alice, readonly, committed)
    mail.outbox.clear()
    backdate(request, 73)

    with committed():
        assert access_tasks.requests_time_out_task.delay().get() == 1

    assert outbox() == [
        ("alice@example.com", "Timed out: your request for ReadOnly"),
        ("bob@example.com", "No longer waiting: alice's request for ReadOnly was timed out"),
    ]
    to_alice = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert "within 72 hours" in to_alice.body and f"{portal_url}/" in to_alice.body
    to_bob = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    assert "timed out: nobody decided it in time" in to_bob.body


# --- closed notices -------------------------------------------------------------------------


def test_a_rejection_tells_the_other_approvers_by_whom(alice, bob, erin, make_group, committed):
    group = make_group("Prod", approvers=[bob, erin])
    request = ask(alice, group, committed)
    mail.outbox.clear()

    with committed():
        access_request_reject(access_request=request, approver=erin, comment="no")

    assert [m.to[0] for m in mail.outbox] == ["alice@example.com", "bob@example.com"]
    assert "was rejected by Erin Example" in mail.outbox[1].body


def test_a_cancellation_tells_the_approvers(alice, bob, readonly, committed):
    request = ask(alice, readonly, committed)
    mail.outbox.clear()

    with committed():
        access_request_cancel(access_request=request, user=alice)

    assert [m.to[0] for m in mail.outbox] == ["bob@example.com"]
    assert "was cancelled by the requester" in mail.outbox[0].body


def test_an_approval_tells_only_the_approvers_who_were_told(
    alice, bob, erin, make_group, committed
):
    group = make_group("Prod", approvers=[bob])
    request = ask(alice, group, committed)
    group.approvers.add(erin)  # named after the request was sent: never told of it
    mail.outbox.clear()

    with committed():
        access_request_approve(access_request=request, approver=erin)

    assert [m.to[0] for m in mail.outbox] == ["alice@example.com", "bob@example.com"]
    assert "was approved by Erin Example" in mail.outbox[1].body
    # Provisioning has begun by the time the mail goes: the subject says what was decided.
    assert mail.outbox[1].subject == "No longer waiting: alice's request for Prod was approved"


def test_the_notice_is_sent_once(alice, bob, erin, make_group, committed):
    group = make_group("Prod", approvers=[bob, erin])
    request = ask(alice, group, committed)
    with committed():
        access_request_reject(access_request=request, approver=erin)
    mail.outbox.clear()

    assert reminders.request_closed_send(request_id=request.pk) == 0
    assert mail.outbox == []


# --- reminders ------------------------------------------------------------------------------


@pytest.fixture
def waiting(alice, erin, bob, make_group, make_user, committed):
    """Three pending requests: two of ReadOnly-like groups bob approves, one erin approves."""
    frank = make_user("frank")
    first = make_group("First", approvers=[bob])
    second = make_group("Second", approvers=[bob, erin], approvals_required=2)
    third = make_group("Third", approvers=[erin])
    requests = [ask(alice, first, committed), ask(frank, second, committed), ask(alice, third, committed)]
    mail.outbox.clear()
    return requests


def test_nothing_is_reminded_before_4_hours(waiting):
    for request in waiting:
        backdate(request, 3.9)
    assert reminders.approval_reminders_send(now=timezone.now()) == 0
    assert mail.outbox == []


def test_one_mail_per_approver_lists_all_their_waiting_requests(waiting, portal_url):
    for request in waiting:
        backdate(request, 5)

    assert access_tasks.approval_reminders_task.delay().get() == 2

    assert outbox() == [
        ("bob@example.com", "Waiting for you: 2 access requests"),
        ("erin@example.com", "Waiting for you: 2 access requests"),
    ]
    to_bob = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    assert "Alice Example for First" in to_bob.body and "Frank Example for Second" in to_bob.body
    assert "Third" not in to_bob.body
    assert f"{portal_url}/" in to_bob.alternatives[0][0]


def test_reminders_come_again_a_day_later_not_before(waiting):
    now = timezone.now()
    for request in waiting:
        backdate(request, 5)
    assert reminders.approval_reminders_send(now=now) == 2
    mail.outbox.clear()

    assert reminders.approval_reminders_send(now=now + 23 * HOUR) == 0
    assert reminders.approval_reminders_send(now=now + 24 * HOUR) == 2
    assert reminders.approval_reminders_send(now=now + 24 * HOUR + timedelta(seconds=1)) == 0
    assert len(mail.outbox) == 2


def test_a_request_approved_by_an_approver_is_not_listed_for_them(waiting, bob, committed):
    with committed():
        access_request_approve(access_request=waiting[1], approver=bob)  # 1 of 2
    mail.outbox.clear()
    for request in waiting:
        backdate(request, 5)

    reminders.approval_reminders_send(now=timezone.now())

    to_bob = next(m for m in mail.outbox if m.to == ["bob@example.com"])
    assert to_bob.subject == "Waiting for you: 1 access request"
    assert "Second" not in to_bob.body
    to_erin = next(m for m in mail.outbox if m.to == ["erin@example.com"])
    assert "Second" in to_erin.body


def test_decided_requests_are_not_reminded(waiting, bob, erin, committed):
    with committed():
        access_request_reject(access_request=waiting[0], approver=bob)
        access_request_reject(access_request=waiting[2], approver=erin)
    mail.outbox.clear()
    for request in waiting:
        backdate(request, 5)

    reminders.approval_reminders_send(now=timezone.now())

    assert outbox() == [
        ("bob@example.com", "Waiting for you: 1 access request"),
        ("erin@example.com", "Waiting for you: 1 access request"),
    ]
    assert AccessRequest.objects.get(pk=waiting[0].pk).status == RequestStatus.REJECTED


def test_a_failed_send_gives_the_claims_back(waiting, monkeypatch):
    for request in waiting:
        backdate(request, 5)

    def broken(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(reminders, "_send", broken)
    with pytest.raises(OSError):
        reminders.approval_reminders_send(now=timezone.now())
    assert not AccessRequest.objects.filter(approvers_reminded_at__isnull=False).exists()
    monkeypatch.undo()

    assert reminders.approval_reminders_send(now=timezone.now()) == 2


def test_the_approval_mail_says_when_access_starts(alice, bob, readonly, committed):
    starts = (timezone.now() + 3 * HOUR).replace(second=0, microsecond=0)
    with committed():
        request = access_request_create(
            requester=alice, access_group=readonly, justification="x", starts_at=starts
        )
    mail.outbox.clear()
    with committed():
        access_request_approve(access_request=request, approver=bob)

    assert [m.to[0] for m in mail.outbox] == ["alice@example.com"]
    assert f"Your access starts at {starts:%Y-%m-%d %H:%M} UTC, as you asked" in mail.outbox[0].body


def test_when_only_an_admin_can_complete_the_quorum_the_admins_are_reminded(
    alice, bob, erin, dave, make_group, committed
):
    # bob asks for a group he approves himself: erin's approval leaves it one short,
    # and only an admin (dave) can make up the number.
    group = make_group("Pair", approvers=[bob, erin], approvals_required=2)
    request = ask(bob, group, committed)
    with committed():
        access_request_approve(access_request=request, approver=erin)
    mail.outbox.clear()
    backdate(request, 5)

    assert reminders.approval_reminders_send(now=timezone.now()) == 1

    assert outbox() == [("dave@example.com", "Waiting for you: 1 access request")]
    assert "Bob Example for Pair" in mail.outbox[0].body
