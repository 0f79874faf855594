"""Mail of the approval policies: break-glass told at once and, while not reviewed, daily;
an automatic approval told to the requester; a quorum mails only when it is reached."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accessgroups.access.break_glass import access_request_acknowledge
from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_activated,
)
from accessgroups.access.tasks import break_glass_reviews_overdue_task
from accessgroups.mail.break_glass import break_glass_overdue_send
from accessgroups.models import AccessRequest, AuditEvent
from tests.mail.helpers import html_of

pytestmark = pytest.mark.django_db

WHY = "production is down, <b>incident</b> 42"


@pytest.fixture
def oncall(make_group, sandbox, bob, erin):
    return make_group("OnCall", accounts=[sandbox], approvers=[bob, erin], break_glass=True)


def test_break_glass_end_to_end(alice, bob, dave, erin, oncall, committed, portal_url, settings):
    settings.BREAK_GLASS_REVIEW_HOURS = 24
    with committed():
        request = access_request_create(
            requester=alice, access_group=oncall, justification=WHY, break_glass=True
        )

    # Told at once: every approver of the group and every admin, never the requester.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "bob@example.com",
        "dave@example.com",
        "erin@example.com",
    ]
    message = mail.outbox[0]
    assert "Break-glass access: alice in OnCall" in message.subject
    assert "granted at once, without approval, for 4 hours" in message.body
    assert WHY in message.body and "/approvals/" in message.body
    assert "&lt;b&gt;incident" in html_of(message)

    with committed():
        membership_activated(membership_id=request.membership_id)
    mail.outbox.clear()

    # Not reviewed in time: the admins are told, once a day, until someone reviews.
    AccessRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    late = timezone.now()
    assert break_glass_overdue_send(now=late) == 1
    assert [m.to[0] for m in mail.outbox] == ["dave@example.com"]
    assert "Not reviewed: break-glass access of alice to OnCall" in mail.outbox[0].subject
    assert break_glass_overdue_send(now=late + timedelta(hours=2)) == 0
    assert break_glass_overdue_send(now=late + timedelta(days=1)) == 1
    assert len(mail.outbox) == 2

    access_request_acknowledge(access_request=request, reviewer=erin, comment="checked")
    assert break_glass_overdue_send(now=late + timedelta(days=3)) == 0
    assert AccessRequest.objects.get().break_glass_review_outcome == "acknowledged"
    assert AuditEvent.objects.get(action="request.break_glass_acknowledged").data == {
        "overdue": True
    }


def test_the_overdue_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["break-glass-reviews-overdue"]
    assert entry["task"] == break_glass_reviews_overdue_task.name


def test_an_automatic_approval_mails_the_requester(alice, make_group, committed):
    group = make_group("Sandbox", auto_approve=True)
    with committed():
        access_request_create(requester=alice, access_group=group, justification="try")
    assert [m.to[0] for m in mail.outbox] == ["alice@example.com"]
    assert "The portal approved your request for Sandbox automatically" in mail.outbox[0].body


def test_a_quorum_mails_the_requester_once_reached(alice, bob, erin, make_group, committed):
    group = make_group("Prod", approvers=[bob, erin], approvals_required=2)
    with committed():
        request = access_request_create(requester=alice, access_group=group, justification="x")
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@example.com", "erin@example.com"]
    assert "It needs 2 approvals from different approvers." in mail.outbox[0].body
    assert "High risk" not in mail.outbox[0].body
    mail.outbox.clear()
    with committed():
        access_request_approve(access_request=request, approver=bob, comment="first")
    assert mail.outbox == []
    with committed():
        access_request_approve(access_request=request, approver=erin, comment="second")
    # The requester is told, and bob, told of the request, learns that it is decided.
    assert [m.to[0] for m in mail.outbox] == ["alice@example.com", "bob@example.com"]
    assert "Erin Example approved" in mail.outbox[0].body and "second" in mail.outbox[0].body
    assert "was approved by Erin Example" in mail.outbox[1].body


def test_a_high_risk_request_says_so(alice, bob, make_group, committed):
    group = make_group("Admins", approvers=[bob], risk="high")
    with committed():
        access_request_create(requester=alice, access_group=group, justification="x")
    assert "High risk: an approval needs a comment." in mail.outbox[0].body
    assert "<strong>High risk:</strong>" in html_of(mail.outbox[0])
