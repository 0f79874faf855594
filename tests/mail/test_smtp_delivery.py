"""Mail through a real SMTP server that fails the way real ones do: each person told once."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from accessgroups.access.services import access_request_create
from accessgroups.mail import tasks
from accessgroups.models import AccessRequest, MailDelivery
from tests.mail.helpers import grant

APPROVERS = ["bob@example.com", "dave@example.com", "erin@example.com"]


def test_a_retry_after_a_failure_half_way_sends_only_the_missing_mail(
    smtp_server, committed, alice, bob, dave, erin, readonly
):
    readonly.approvers.add(erin, dave)
    # The server accepts the first approver's mail and turns the second away for now: the
    # task fails and asks Celery to run it again later.
    smtp_server.refuse = {2}
    with pytest.raises(Retry, match="SMTPRecipientsRefused"), committed():
        access_request_create(requester=alice, access_group=readonly, justification="x")
    assert len(smtp_server.received) == 1

    # The retry: the mail already accepted is not sent again.
    request = AccessRequest.objects.get()
    assert tasks.request_submitted_mail_task.delay(request.pk).get() == 2
    assert smtp_server.offered == 4  # three approvers, one of them twice
    assert smtp_server.recipients() == APPROVERS
    recorded = MailDelivery.objects.filter(message="request_submitted", subject=f"request:{request.pk}")
    assert sorted(recorded.values_list("recipient__email", flat=True)) == APPROVERS


def test_a_task_delivered_twice_mails_nobody_twice(smtp_server, committed, alice, bob, readonly):
    with committed():
        request = access_request_create(requester=alice, access_group=readonly, justification="x")
    assert smtp_server.recipients() == ["bob@example.com"]

    # The broker hands the same task to a worker again (a redelivery after a lost ack).
    assert tasks.request_submitted_mail_task.delay(request.pk).get() == 0
    assert smtp_server.recipients() == ["bob@example.com"]


def test_a_server_that_is_down_gives_the_reminder_back(smtp_server, alice, dave, readonly):
    membership = grant(alice, readonly, dave, hours=4, activated_at=timezone.now() - timedelta(hours=3))
    smtp_server.down = True

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        tasks.expiry_reminders_task.delay()
    membership.refresh_from_db()
    assert membership.reminded_for is None
    assert smtp_server.received == []

    smtp_server.down = False
    assert tasks.expiry_reminders_task.delay().get() == 1
    assert [address for address, _ in smtp_server.received] == ["alice@example.com"]
    assert smtp_server.received[0][1].startswith("Expiring: your access to ReadOnly")
