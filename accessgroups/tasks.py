"""Celery tasks that send mail about access (accessgroups.notifications).

They take ids, read the rows again and return early when there is nothing to say. An SMTP
server that is down or refuses for a while is retried with backoff; mail is never sent
from a web request.
"""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.utils import timezone

from accessgroups import notifications

# SMTP trouble is usually short (a restart, greylisting); about half an hour of retries
# with exponential backoff covers it without mailing people about stale events for days.
MAIL_RETRY = {
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(**MAIL_RETRY)
def request_submitted_mail_task(request_id: int) -> int:
    return notifications.request_submitted_send(request_id=request_id)


@shared_task(**MAIL_RETRY)
def request_decided_mail_task(request_id: int) -> int:
    return notifications.request_decided_send(request_id=request_id)


@shared_task(**MAIL_RETRY)
def membership_active_mail_task(membership_id: int) -> int:
    return notifications.membership_active_send(membership_id=membership_id)


@shared_task(**MAIL_RETRY)
def membership_ended_mail_task(membership_id: int) -> int:
    return notifications.membership_ended_send(membership_id=membership_id)


@shared_task
def expiry_reminder_mail_task(membership_id: int) -> int:
    # No autoretry: a failed send gives its claim back and the next sweep finds it again.
    return notifications.expiry_reminder_send(membership_id=membership_id)


@shared_task
def expiry_reminders_task() -> int:
    """Periodic (beat): one task per membership whose expiry reminder is due."""
    due = notifications.memberships_due_for_reminder(now=timezone.now())
    for membership in due:
        expiry_reminder_mail_task.delay(membership.pk)
    return len(due)


@shared_task
def access_reviews_close_task() -> int:
    """Periodic (beat): close the access reviews whose deadline has passed.

    Each review is claimed with a conditional update, so overlapping runs close it once.
    """
    from accessgroups import review_services

    return review_services.access_reviews_close_due(now=timezone.now())
