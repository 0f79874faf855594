"""Email about access: who is told what, and what the mail says.

The workflow calls the ``notify_*`` hooks (accessgroups.mail.notify) inside its
transactions; each hook enqueues a Celery task (accessgroups.mail.tasks) with ids only,
once the transaction has committed, so that a rolled-back change mails nobody and no mail
is sent inside a web request. The tasks call the ``*_send`` functions here, which read the
rows again, pick the recipients and render ``templates/notifications/<message>/``
(``subject.txt``, ``body.txt``, ``body.html``).

Who gets mail:
- a request arrives: the access group's approvers, or the admins when nobody else can
  approve it;
- a request is decided, access becomes active, is about to expire, or ends: the requester
  (the member);
- a change of an access group is proposed (four eyes): the other admins
  (accessgroups.mail.changes).
Users who are inactive or have no email get nothing, and nobody is mailed about their own
action (a member who gives up their own access, an approver who is also the requester).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accessgroups.access.selectors import removals_pending
from accessgroups.core.roles import admins, approvers_of
from accessgroups.models import (
    AccessRequest,
    AuditEvent,
    DecisionOutcome,
    EndReason,
    MailDelivery,
    Membership,
    User,
)

logger = logging.getLogger(__name__)

# A reminder goes out a day before expiry, or at half the duration for grants of 48 hours
# or less, so that a 4-hour grant is not reminded the moment it starts.
REMINDER_LEAD = timedelta(hours=24)


# --- recipients ----------------------------------------------------------------------------


def _mailable(users: Iterable[User], *, actor_id: int | None = None) -> list[User]:
    return [u for u in users if u.is_active and u.email and u.pk != actor_id]


def request_submitted_recipients(request: AccessRequest) -> list[User]:
    """The group's approvers; the admins when no approver other than the requester exists."""
    deciders = approvers_of(request.access_group).exclude(pk=request.requester_id)
    if not deciders.exists():
        deciders = admins()
    return _mailable(deciders.order_by("username"), actor_id=request.requester_id)


# --- rendering and sending -----------------------------------------------------------------


def portal_link(url_name: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(url_name)


def render_message(message: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of one message; the subject is always one line."""
    folder = f"notifications/{message}"
    subject = " ".join(render_to_string(f"{folder}/subject.txt", context).split())
    text = render_to_string(f"{folder}/body.txt", context)
    html = render_to_string(f"{folder}/body.html", context)
    return subject, text, html


def _send(message: str, recipients: list[User], context: dict[str, Any], *, about: str) -> int:
    """One mail per recipient, so that nobody sees who else was told; each of them once.

    ``about`` names what the message is about (``request:42``). Every mail the server
    accepts is recorded at once (``MailDelivery``), so when the server fails half-way and
    the task is retried, or the broker delivers the task twice, only the missing mails go.
    """
    done = set(
        MailDelivery.objects.filter(
            message=message, subject=about, recipient__in=recipients
        ).values_list("recipient_id", flat=True)
    )
    pending = [user for user in recipients if user.pk not in done]
    if not pending:
        return 0
    sent = 0
    with get_connection() as connection:
        for user in pending:
            subject, text, html = render_message(message, {**context, "recipient": user})
            mail = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
            mail.attach_alternative(html, "text/html")
            if connection.send_messages([mail]):
                MailDelivery.objects.bulk_create(
                    [MailDelivery(message=message, subject=about, recipient=user)],
                    ignore_conflicts=True,
                )
                sent += 1
    logger.info("Sent %s mail about %s %s time(s)", message, about, sent)
    return sent


def _group_context(membership_or_request: Membership | AccessRequest) -> dict[str, Any]:
    group = membership_or_request.access_group
    return {"access_group": group, "accounts": list(group.current_accounts())}


# --- senders: called by the tasks ----------------------------------------------------------


def request_submitted_send(*, request_id: int) -> int:
    request = (
        AccessRequest.objects.select_related("requester", "access_group")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        return 0
    context = {
        "request": request,
        "requester": request.requester,
        "link": portal_link("web:approvals"),
        **_group_context(request),
    }
    return _send(
        "request_submitted", request_submitted_recipients(request), context, about=f"request:{request.pk}"
    )


def request_decided_send(*, request_id: int) -> int:
    request = (
        AccessRequest.objects.select_related("requester", "access_group")
        .filter(pk=request_id)
        .first()
    )
    # The last decision decided it (a quorum has several approvals before it).
    decision = request.decisions.select_related("decided_by").last() if request else None
    if decision is None:
        return 0
    message = (
        "request_rejected" if decision.outcome == DecisionOutcome.REJECT else "request_approved"
    )
    context = {
        "request": request,
        "decision": decision,
        # A delayed start still ahead (accessgroups.access.timing).
        "starts_later": bool(request.starts_at and request.starts_at > timezone.now()),
        "link": portal_link("web:my-requests"),
        **_group_context(request),
    }
    recipients = _mailable([request.requester], actor_id=decision.decided_by_id)
    return _send(message, recipients, context, about=f"request:{request.pk}")


def _membership(membership_id: int) -> Membership | None:
    return (
        Membership.objects.select_related("user", "access_group", "ended_by")
        .filter(pk=membership_id)
        .first()
    )


def membership_active_send(*, membership_id: int) -> int:
    membership = _membership(membership_id)
    if membership is None or membership.activated_at is None or membership.ended_at is not None:
        return 0
    context = {
        "membership": membership,
        "link": portal_link("web:my-access"),
        **_group_context(membership),
    }
    return _send(
        "access_active", _mailable([membership.user]), context, about=f"membership:{membership.pk}"
    )


def membership_ended_send(*, membership_id: int) -> int:
    membership = _membership(membership_id)
    if membership is None or membership.ended_at is None:
        return 0
    message = "access_expired" if membership.end_reason == EndReason.EXPIRED else "access_revoked"
    # The comment given when access was revoked is kept in the audit log only.
    event = (
        AuditEvent.objects.filter(
            action=f"membership.{membership.end_reason}",
            object_type=Membership._meta.model_name,
            object_id=str(membership.pk),
        )
        .order_by("-sequence")
        .first()
    )
    context = {
        "membership": membership,
        "comment": event.message if event else "",
        "link": portal_link("web:catalogue"),
        **_group_context(membership),
    }
    recipients = _mailable([membership.user], actor_id=membership.ended_by_id)
    return _send(message, recipients, context, about=f"membership:{membership.pk}")


# --- expiry reminders ----------------------------------------------------------------------


def reminder_due_at(membership: Membership) -> datetime | None:
    """When the member is told their access is about to expire.

    ``expires_at - min(24 h, duration / 2)``: a day before, or half-way through grants of
    48 hours or less. The duration is the last grant's (an extension sets it); a membership
    without one counts from its activation.
    """
    if membership.expires_at is None:
        return None
    if membership.duration_hours is not None:
        duration = timedelta(hours=membership.duration_hours)
    else:
        duration = membership.expires_at - (membership.activated_at or membership.granted_at)
    return membership.expires_at - min(REMINDER_LEAD, duration / 2)


def memberships_due_for_reminder(*, now: datetime) -> list[Membership]:
    """Active memberships whose reminder for their current expiry is due and not yet sent.

    One query finds every membership that expires within the next day and was not reminded
    of that expiry (no reminder is ever due earlier); the exact time rule, which needs
    interval arithmetic that SQLite and PostgreSQL spell differently, is applied in Python.
    """
    candidates = (
        Membership.objects.active()
        .filter(
            activated_at__isnull=False,
            expires_at__gt=now,
            expires_at__lte=now + REMINDER_LEAD,
            user__is_active=True,
        )
        .exclude(user__email="")
        .exclude(reminded_for=F("expires_at"))
        .select_related("user", "access_group")
        .order_by("expires_at", "pk")
    )
    return [m for m in candidates if reminder_due_at(m) <= now]


def expiry_reminder_send(*, membership_id: int, now: datetime | None = None) -> int:
    """Remind the member once per membership and expiry, however many workers try at once.

    The conditional update claims the reminder: of two workers, the second updates nothing
    (PostgreSQL re-checks the condition after the first commits; SQLite serialises writers)
    and sends nothing. When sending fails the claim is given back, so the next sweep tries
    again.
    """
    now = now or timezone.now()
    membership = _membership(membership_id)
    if membership is None or membership.ended_at is not None or membership.expires_at is None:
        return 0
    expires_at = membership.expires_at
    if not (reminder_due_at(membership) <= now < expires_at):
        return 0
    claimed = (
        Membership.objects.filter(pk=membership_id, ended_at__isnull=True, expires_at=expires_at)
        .exclude(reminded_for=expires_at)
        .update(reminded_for=expires_at)
    )
    if not claimed:
        return 0
    context = {
        "membership": membership,
        "link": portal_link("web:my-access"),
        **_group_context(membership),
    }
    try:
        about = f"membership:{membership.pk}:expiring:{expires_at.isoformat()}"
        return _send("access_expiring", _mailable([membership.user]), context, about=about)
    except Exception:
        # Give the claim back whatever went wrong, then let the error show in the worker log.
        Membership.objects.filter(pk=membership_id, reminded_for=expires_at).update(
            reminded_for=None
        )
        raise


# --- removals Identity Center has not confirmed ----------------------------------------------


def removal_alerts_send(*, now: datetime) -> int:
    """Tell the admins, once per removal, about access still not removed after the alert delay.

    A membership ended ``REMOVAL_ALERT_MINUTES`` ago whose removal Identity Center has not
    confirmed means someone may still hold AWS access the portal says they do not. The
    workers keep retrying; the admins get one mail listing every such removal not mailed
    about yet, and the removals are marked so that none is mailed twice. Returns the mails
    sent.
    """
    cutoff = now - timedelta(minutes=settings.REMOVAL_ALERT_MINUTES)
    due = list(
        removals_pending()
        .filter(ended_at__lte=cutoff, removal_alerted_at__isnull=True)
        .select_related("user", "access_group")
        .order_by("ended_at", "pk")[:200]
    )
    if not due:
        return 0
    context = {
        "removals": due,
        "minutes": settings.REMOVAL_ALERT_MINUTES,
        "link": portal_link("web:manage-provisioning"),
    }
    # The same removals make the same subject: a retry after a half-sent run mails only
    # the admins who were missed.
    ids = ",".join(str(m.pk) for m in due)
    about = f"removals:{hashlib.sha256(ids.encode()).hexdigest()[:32]}"
    sent = _send("removal_pending", _mailable(admins().order_by("username")), context, about=about)
    Membership.objects.filter(pk__in=[m.pk for m in due], removal_alerted_at__isnull=True).update(
        removal_alerted_at=now
    )
    return sent
