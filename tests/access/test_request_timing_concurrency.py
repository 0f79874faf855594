"""Time-outs and reminders racing other workers (run on PostgreSQL in CI).

An approval and the time-out lock the request row the same way, so exactly one of them
wins; two reminder runs at once claim each due request once, so nobody is mailed twice.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access import timing
from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.core.errors import InvalidTransition
from accessgroups.mail import reminders
from accessgroups.models import AccessRequest, AuditEvent, Membership, RequestStatus
from tests.at_once import at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setattr("accessgroups.access.grants.sync_membership", lambda m: None)
    monkeypatch.setattr("accessgroups.access.services._sync_membership", lambda m: None)
    monkeypatch.setattr("accessgroups.mail.notify._send_on_commit", lambda *args: None)


@pytest.mark.parametrize("attempt", range(5))
def test_an_approval_racing_the_time_out_one_wins(alice, bob, readonly, quiet, attempt):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    AccessRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - timedelta(hours=80)
    )

    approved, timed_out = at_once(
        lambda: access_request_approve(access_request=request, approver=bob),
        lambda: timing.request_time_out(request_id=request.pk, now=timezone.now()),
    )

    request.refresh_from_db()
    if timed_out is True:
        assert isinstance(approved, InvalidTransition)
        assert request.status == RequestStatus.TIMED_OUT
        assert not Membership.objects.exists()
        assert not AuditEvent.objects.filter(action="request.approved").exists()
    else:
        assert timed_out is False
        assert approved.status == RequestStatus.APPROVED
        assert request.status == RequestStatus.APPROVED
        assert Membership.objects.count() == 1
        assert not AuditEvent.objects.filter(action="request.timed_out").exists()


def test_two_reminder_runs_at_once_mail_each_approver_once(
    alice, bob, readonly, make_group, monkeypatch
):
    other = make_group("Other", approvers=[bob])
    for group in (readonly, other):
        request = access_request_create(requester=alice, access_group=group, justification="x")
        AccessRequest.objects.filter(pk=request.pk).update(
            created_at=timezone.now() - timedelta(hours=5)
        )
    mailed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def record(message, recipients, context, *, about):
        with lock:
            mailed.extend((u.username, len(context["requests"])) for u in recipients)
        return len(recipients)

    monkeypatch.setattr(reminders, "_send", record)
    now = timezone.now()

    results = at_once(
        lambda: reminders.approval_reminders_send(now=now),
        lambda: reminders.approval_reminders_send(now=now + timedelta(microseconds=1)),
    )

    assert sorted(results) == [0, 1]
    assert mailed == [("bob", 2)]
