"""Mail about requests that wait: approvers reminded, a time-out, a request closed.

- Reminders: a pending request waiting ``REMINDER_AFTER`` (4 hours) is brought back to its
  approvers, then once a day (``REMINDER_EVERY``) while it waits. Each run sends one mail per
  approver, listing every request due in that run that waits for them; a request they have
  already approved (a quorum still short) is not listed for them. When no approver is left
  who could approve it, the admins are reminded: only they can complete the quorum.
- Time-out: the requester is told that nobody decided in time, and may ask again.
- Closed: once a pending request is decided (approved in full, rejected, cancelled, timed
  out), the approvers who were told of it (its ``request_submitted`` mail) learn how, and by
  whom, so they need not open it. The person who closed it is not told.

docs/decisions/0017-request-timing.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from accessgroups.core.roles import admins
from accessgroups.mail.services import (
    _group_context,
    _mailable,
    _send,
    portal_link,
    request_submitted_recipients,
)
from accessgroups.models import (
    AccessRequest,
    AuditEvent,
    MailDelivery,
    RequestStatus,
    User,
)

REMINDER_AFTER = timedelta(hours=4)
REMINDER_EVERY = timedelta(days=1)
# Requests reminded of per run; a larger backlog goes in the next runs.
REMINDER_BATCH = 500

CLOSING_ACTIONS = {
    RequestStatus.APPROVED: "request.approved",
    RequestStatus.PROVISIONING: "request.approved",
    RequestStatus.ACTIVE: "request.approved",
    RequestStatus.FAILED: "request.approved",
    RequestStatus.REJECTED: "request.rejected",
    RequestStatus.CANCELLED: "request.cancelled",
    RequestStatus.TIMED_OUT: "request.timed_out",
}


def _reminder_due(now: datetime) -> Q:
    return Q(created_at__lte=now - REMINDER_AFTER) & (
        Q(approvers_reminded_at__isnull=True)
        | Q(approvers_reminded_at__lte=now - REMINDER_EVERY)
    )


def _waiting_for(request: AccessRequest) -> list[User]:
    """Who may still decide it: its approvers (or the admins), less those who approved.

    When every approver who could has approved and the quorum is still short (the
    requester is one of the approvers, or an approver left), only an admin can make up the
    number: the admins are reminded instead.
    """
    def deciding(people: list[User]) -> list[User]:
        return [
            user
            for user in people
            if AccessRequest.objects.decidable_by(user).filter(pk=request.pk).exists()
        ]

    return deciding(request_submitted_recipients(request)) or deciding(
        _mailable(admins().order_by("username"), actor_id=request.requester_id)
    )


def approval_reminders_send(*, now: datetime) -> int:
    """Remind approvers of the requests waiting for them; returns the mails sent.

    The due requests are claimed in one conditional update that sets their reminder time
    to this run's moment: a second run at the same time waits for the row locks, finds them
    no longer due and claims nothing (SQLite serialises the writers), so nobody gets the
    same reminder twice. A run that fails to send gives its claims back for the next run.
    """
    ids = list(
        AccessRequest.objects.pending()
        .filter(_reminder_due(now))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:REMINDER_BATCH]
    )
    if not ids:
        return 0
    previous = dict(
        AccessRequest.objects.filter(pk__in=ids).values_list("pk", "approvers_reminded_at")
    )
    AccessRequest.objects.pending().filter(pk__in=ids).filter(_reminder_due(now)).update(
        approvers_reminded_at=now
    )
    claimed = list(
        AccessRequest.objects.pending()
        .filter(pk__in=ids, approvers_reminded_at=now)
        .select_related("requester", "access_group")
        .order_by("created_at", "pk")
    )
    per_approver: dict[int, list[AccessRequest]] = defaultdict(list)
    people: dict[int, User] = {}
    for request in claimed:
        for user in _waiting_for(request):
            people[user.pk] = user
            per_approver[user.pk].append(request)
    sent = 0
    try:
        for pk in sorted(per_approver, key=lambda pk: people[pk].username):
            context = {
                "requests": per_approver[pk],
                "link": portal_link("web:approvals"),
                "now": now,
            }
            sent += _send(
                "approval_reminder",
                _mailable([people[pk]]),
                context,
                about=f"approval_reminder:{now.isoformat()}",
            )
    except Exception:
        for request in claimed:
            AccessRequest.objects.filter(pk=request.pk, approvers_reminded_at=now).update(
                approvers_reminded_at=previous.get(request.pk)
            )
        raise
    return sent


def _request(request_id: int) -> AccessRequest | None:
    return (
        AccessRequest.objects.select_related("requester", "access_group")
        .filter(pk=request_id)
        .first()
    )


def request_timed_out_send(*, request_id: int) -> int:
    request = _request(request_id)
    if request is None or request.status != RequestStatus.TIMED_OUT:
        return 0
    context = {
        "request": request,
        "ttl_hours": settings.PENDING_REQUEST_TTL_HOURS,
        "link": portal_link("web:catalogue"),
        **_group_context(request),
    }
    return _send(
        "request_timed_out",
        _mailable([request.requester]),
        context,
        about=f"request:{request.pk}:timed_out",
    )


def request_closed_send(*, request_id: int) -> int:
    """Tell the approvers who were told of the request that it is closed, and by whom."""
    request = _request(request_id)
    action = CLOSING_ACTIONS.get(request.status) if request else None
    if action is None:
        return 0
    event = (
        AuditEvent.objects.filter(
            action=action,
            object_type=AccessRequest._meta.model_name,
            object_id=str(request.pk),
        )
        .select_related("actor")
        .order_by("-sequence")
        .first()
    )
    by = event.actor if event else None
    told = MailDelivery.objects.filter(
        message="request_submitted", subject=f"request:{request.pk}"
    ).values("recipient_id")
    recipients = User.objects.filter(pk__in=told).exclude(pk=request.requester_id)
    if by is not None:
        recipients = recipients.exclude(pk=by.pk)
    context = {
        "request": request,
        "outcome": action.removeprefix("request."),
        "by": by,
        "link": portal_link("web:approvals"),
        **_group_context(request),
    }
    return _send(
        "request_closed",
        _mailable(recipients.order_by("username")),
        context,
        about=f"request:{request.pk}:closed",
    )

