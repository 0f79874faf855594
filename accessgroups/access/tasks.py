"""Celery tasks of the access workflow: database work, on the default queue."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accessgroups.access.outcomes import membership_activated
from accessgroups.access.selectors import memberships_confirmed_not_activated
from accessgroups.access.services import memberships_expire
from accessgroups.access.sessions import session_revocations_lift
from accessgroups.access.timing import requests_start, requests_time_out
from accessgroups.core.dispatch import dispatch_overdue
from accessgroups.mail.break_glass import break_glass_overdue_send
from accessgroups.mail.reminders import approval_reminders_send
from accessgroups.mail.services import removal_alerts_send

logger = logging.getLogger(__name__)


@shared_task
def memberships_expire_task() -> int:
    """Periodic (beat): end the memberships whose expiry has passed.

    Each ending asks provisioning to remove the Identity Center membership after commit.
    """
    return memberships_expire(now=timezone.now())


@shared_task
def provisioning_reconcile_task() -> dict[str, int]:
    """Periodic (beat, every ``RECONCILE_INTERVAL_SECONDS``): send again what was lost.

    Rows whose provisioning task never arrived or whose worker died are sent again, removals
    first (accessgroups.core.dispatch); memberships confirmed in Identity Center whose
    activation was cut short are activated; then the admins are told about removals Identity
    Center has still not confirmed after ``REMOVAL_ALERT_MINUTES``.
    """
    now = timezone.now()
    dispatched = dispatch_overdue(
        now=now, interval=timedelta(seconds=settings.RECONCILE_INTERVAL_SECONDS)
    )
    activated = 0
    for membership_id in memberships_confirmed_not_activated().values_list("pk", flat=True)[:1000]:
        membership_activated(membership_id=membership_id)
        activated += 1
    if activated:
        logger.warning("Activated %d membership(s) confirmed in Identity Center but never activated.", activated)
    try:
        alerts = removal_alerts_send(now=now)
    except (smtplib.SMTPException, OSError) as exc:
        # Nothing is marked as told: the next run mails again.
        logger.warning("Could not mail the admins about pending removals: %s", exc)
        alerts = 0
    return {
        "sent": dispatched.total,
        "removals": dispatched.removals,
        "taken_over": dispatched.taken_over,
        "unsent": dispatched.unsent,
        "activated": activated,
        "alert_mails": alerts,
    }


@shared_task
def session_revocations_lift_task() -> int:
    """Periodic (beat): lift the session revocations whose sessions have all ended.

    Each group that lost a revocation asks provisioning to sync its permission set.
    """
    return session_revocations_lift(now=timezone.now())


@shared_task
def break_glass_reviews_overdue_task() -> int:
    """Periodic (beat): tell the admins, once a day each, about break-glass use nobody reviewed."""
    return break_glass_overdue_send(now=timezone.now())


@shared_task
def requests_start_task() -> int:
    """Periodic (beat, at least once a minute): provision approved requests whose start came."""
    return requests_start(now=timezone.now())


@shared_task
def requests_time_out_task() -> int:
    """Periodic (beat): pending requests older than ``PENDING_REQUEST_TTL_HOURS`` time out."""
    return requests_time_out(now=timezone.now())


@shared_task
def approval_reminders_task() -> int:
    """Periodic (beat): one mail per approver listing the requests waiting for them."""
    return approval_reminders_send(now=timezone.now())
