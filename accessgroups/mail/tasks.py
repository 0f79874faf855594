"""Celery tasks that send mail about access (accessgroups.mail.services).

They take ids, read the rows again and return early when there is nothing to say. An SMTP
server that is down or refuses for a while is retried with backoff; mail is never sent
from a web request.
"""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.utils import timezone

from accessgroups.mail import break_glass as break_glass_mail
from accessgroups.mail import changes as changes_mail
from accessgroups.mail import reminders
from accessgroups.mail import services as mail


def _named(function: str) -> str:
    # The names these tasks had before the mail subject got its own package: mail queued by
    # an older release, and the beat schedule, keep reaching them.
    return f"accessgroups.tasks.{function}"


# SMTP trouble is usually short (a restart, greylisting); about half an hour of retries
# with exponential backoff covers it without mailing people about stale events for days.
MAIL_RETRY = {
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(name=_named("request_submitted_mail_task"), **MAIL_RETRY)
def request_submitted_mail_task(request_id: int) -> int:
    return mail.request_submitted_send(request_id=request_id)


@shared_task(**MAIL_RETRY)
def change_proposed_mail_task(change_id: int) -> int:
    return changes_mail.change_proposed_send(change_id=change_id)


@shared_task(name=_named("request_decided_mail_task"), **MAIL_RETRY)
def request_decided_mail_task(request_id: int) -> int:
    return mail.request_decided_send(request_id=request_id)


@shared_task(**MAIL_RETRY)
def request_timed_out_mail_task(request_id: int) -> int:
    return reminders.request_timed_out_send(request_id=request_id)


@shared_task(**MAIL_RETRY)
def request_closed_mail_task(request_id: int) -> int:
    return reminders.request_closed_send(request_id=request_id)


@shared_task(**MAIL_RETRY)
def break_glass_granted_mail_task(request_id: int) -> int:
    return break_glass_mail.break_glass_granted_send(request_id=request_id)


@shared_task(name=_named("membership_active_mail_task"), **MAIL_RETRY)
def membership_active_mail_task(membership_id: int) -> int:
    return mail.membership_active_send(membership_id=membership_id)


@shared_task(name=_named("membership_ended_mail_task"), **MAIL_RETRY)
def membership_ended_mail_task(membership_id: int) -> int:
    return mail.membership_ended_send(membership_id=membership_id)


@shared_task(name=_named("expiry_reminder_mail_task"))
def expiry_reminder_mail_task(membership_id: int) -> int:
    # No autoretry: a failed send gives its claim back and the next sweep finds it again.
    return mail.expiry_reminder_send(membership_id=membership_id)


@shared_task(name=_named("expiry_reminders_task"))
def expiry_reminders_task() -> int:
    """Periodic (beat): one task per membership whose expiry reminder is due."""
    due = mail.memberships_due_for_reminder(now=timezone.now())
    for membership in due:
        expiry_reminder_mail_task.delay(membership.pk)
    return len(due)
