"""Mail about break-glass access: told at once, and told again while nobody reviews it.

At once: every active approver of the group and every admin, never the requester. When the
review is overdue (``BREAK_GLASS_REVIEW_HOURS``): the admins, once a day until someone
acknowledges or revokes it (accessgroups.access.break_glass).
"""

from __future__ import annotations

from datetime import datetime

from accessgroups.access.selectors import (
    break_glass_alert_due,
    break_glass_reviews_overdue,
    review_due_at,
)
from accessgroups.core.roles import admins
from accessgroups.mail.services import _group_context, _mailable, _send, portal_link
from accessgroups.models import AccessRequest, User


def break_glass_recipients(request: AccessRequest) -> list[User]:
    """The group's approvers and the admins, each once, by username; never the requester."""
    people = {u.pk: u for u in request.access_group.approvers.filter(is_active=True)}
    people.update({u.pk: u for u in admins()})
    ordered = sorted(people.values(), key=lambda u: u.username)
    return _mailable(ordered, actor_id=request.requester_id)


def _request(request_id: int) -> AccessRequest | None:
    return (
        AccessRequest.objects.select_related("requester", "access_group")
        .filter(pk=request_id, break_glass=True)
        .first()
    )


def _context(request: AccessRequest) -> dict:
    return {
        "request": request,
        "requester": request.requester,
        "due_at": review_due_at(request),
        "link": portal_link("web:approvals"),
        **_group_context(request),
    }


def break_glass_granted_send(*, request_id: int) -> int:
    request = _request(request_id)
    if request is None:
        return 0
    return _send(
        "break_glass_granted",
        break_glass_recipients(request),
        _context(request),
        about=f"request:{request.pk}:break_glass",
    )


def break_glass_overdue_send(*, now: datetime) -> int:
    """Tell the admins about each break-glass use still not reviewed; returns mails sent.

    Each request's alert is claimed first (a conditional update), so that two sweeps at
    once mail once; a claim whose sending fails is given back for the next sweep.
    """
    sent = 0
    for request_id in list(break_glass_reviews_overdue(now=now).values_list("pk", flat=True)[:200]):
        claimed = (
            AccessRequest.objects.filter(pk=request_id, break_glass_reviewed_at__isnull=True)
            .filter(break_glass_alert_due(now))
            .update(break_glass_alerted_at=now)
        )
        if not claimed:
            continue
        request = _request(request_id)
        try:
            sent += _send(
                "break_glass_overdue",
                _mailable(admins().order_by("username"), actor_id=request.requester_id),
                _context(request),
                about=f"request:{request.pk}:break_glass_overdue:{now.date().isoformat()}",
            )
        except Exception:
            AccessRequest.objects.filter(pk=request_id, break_glass_alerted_at=now).update(
                break_glass_alerted_at=None
            )
            raise
    return sent
