"""Expiry reminders: a day before, or half-way through grants of 48 hours or less; once each."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from accessgroups.mail import services as notifications
from accessgroups.mail import tasks
from accessgroups.models import Membership
from tests.mail.helpers import grant

HOUR = timedelta(hours=1)


def due_ids(now: datetime) -> list[int]:
    return [m.pk for m in notifications.memberships_due_for_reminder(now=now)]


def test_a_4_hour_grant_is_reminded_half_way(alice, dave, readonly):
    start = timezone.now()
    membership = grant(alice, readonly, dave, hours=4, activated_at=start)

    assert notifications.reminder_due_at(membership) == start + 2 * HOUR
    assert due_ids(start + 2 * HOUR - timedelta(seconds=1)) == []
    assert due_ids(start + 2 * HOUR) == [membership.pk]
    assert due_ids(start + 4 * HOUR) == []  # expired: the expiry mail says it


def test_a_72_hour_grant_is_reminded_a_day_before(alice, dave, readonly):
    start = timezone.now()
    membership = grant(alice, readonly, dave, hours=72, activated_at=start)

    assert notifications.reminder_due_at(membership) == start + 48 * HOUR
    assert due_ids(start + 48 * HOUR - timedelta(seconds=1)) == []
    assert due_ids(start + 48 * HOUR) == [membership.pk]


def test_the_sweep_reminds_once_however_often_it_runs(portal_url, alice, dave, readonly):
    membership = grant(alice, readonly, dave, hours=4, activated_at=timezone.now() - 3 * HOUR)

    assert tasks.expiry_reminders_task.delay().get() == 1
    assert tasks.expiry_reminders_task.delay().get() == 0
    tasks.expiry_reminder_mail_task.delay(membership.pk)  # a duplicate delivery

    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    message = mail.outbox[0]
    assert message.subject.startswith("Expiring: your access to ReadOnly ends at ")
    assert f'href="{portal_url}/my/access/"' in message.alternatives[0][0]
    membership.refresh_from_db()
    assert membership.reminded_for == membership.expires_at


def test_an_extension_is_reminded_of_its_new_expiry(alice, dave, readonly):
    membership = grant(alice, readonly, dave, hours=4, activated_at=timezone.now() - 3 * HOUR)
    tasks.expiry_reminders_task.delay()
    # Extended by 4 hours: the new expiry is reminded once its own time comes.
    Membership.objects.filter(pk=membership.pk).update(expires_at=membership.expires_at + 4 * HOUR)
    tasks.expiry_reminders_task.delay()
    assert len(mail.outbox) == 1
    Membership.objects.filter(pk=membership.pk).update(expires_at=timezone.now() + HOUR)
    tasks.expiry_reminders_task.delay()
    tasks.expiry_reminders_task.delay()
    assert len(mail.outbox) == 2


def test_inactive_users_and_users_without_email_are_not_reminded(
    make_user, alice, bob, dave, readonly
):
    past = timezone.now() - 3 * HOUR
    grant(alice, readonly, dave, hours=4, activated_at=past)
    grant(bob, readonly, dave, hours=4, activated_at=past)
    alice.is_active = False
    alice.save()
    bob.email = ""
    bob.save()

    assert tasks.expiry_reminders_task.delay().get() == 0
    assert mail.outbox == []


def test_the_sweep_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["expiry-reminders"]
    assert (
        entry["task"]
        == tasks.expiry_reminders_task.name
        == "accessgroups.tasks.expiry_reminders_task"
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_remind_once(monkeypatch, alice, dave, readonly):
    """Eight workers reach the same due reminder at once: one mail."""
    # Commits are real here: the grant's provisioning is not this test's subject.
    monkeypatch.setattr("accessgroups.access.grants.sync_membership", lambda membership: None)
    membership = grant(alice, readonly, dave, hours=72, activated_at=timezone.now() - 50 * HOUR)
    barrier = threading.Barrier(8)
    sent: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            sent.append(notifications.expiry_reminder_send(membership_id=membership.pk))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(sent) == [0] * 7 + [1]
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
