"""Break-glass access: granted at once in an emergency, reviewed by an approver afterwards.

On a group that allows it, a requester asks with ``break_glass`` and a justification of at
least ``BREAK_GLASS_JUSTIFICATION_MIN`` characters; access is granted at once, for at most
``BREAK_GLASS_MAX_HOURS`` and the group's cap, and every approver of the group and every
admin is told. An approver (never the requester) then acknowledges it or revokes it within
``BREAK_GLASS_REVIEW_HOURS``; until someone does, the admins are told again once a day
(docs/decisions/0016-approval-policies.md).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accessgroups.access import grants
from accessgroups.access.selectors import review_due_at
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import InvalidTransition
from accessgroups.core.roles import can_decide, refuse_self_grant
from accessgroups.mail import notify
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    BreakGlassReview,
    Membership,
    MembershipSource,
    User,
)

BREAK_GLASS_JUSTIFICATION_MIN = 20


def break_glass_hours(group: AccessGroup) -> int:
    """The longest break-glass grant on this group: the setting, within the group's cap."""
    cap = group.max_duration_hours
    return min(settings.BREAK_GLASS_MAX_HOURS, cap) if cap else settings.BREAK_GLASS_MAX_HOURS


def break_glass_check(
    *, requester: User, group: AccessGroup, justification: str, duration_hours: int | None
) -> int:
    """Refuse a break-glass request the group or its input does not allow; returns its hours."""
    if not group.break_glass:
        raise PermissionDenied(
            f"{group.name} does not allow break-glass access; ask for it the usual way."
        )
    if len(justification) < BREAK_GLASS_JUSTIFICATION_MIN:
        raise ValidationError(
            {
                "justification": f"Break-glass access needs a justification of at least "
                f"{BREAK_GLASS_JUSTIFICATION_MIN} characters: say what is broken and why it cannot wait."
            }
        )
    most = break_glass_hours(group)
    if duration_hours is not None and duration_hours > most:
        raise ValidationError(
            {"duration_hours": f"Break-glass access on {group.name} lasts at most {most} hours."}
        )
    if Membership.objects.active().filter(user=requester, access_group=group).exists():
        raise ValidationError(
            {"break_glass": "You already have this access; ask for an extension the usual way."}
        )
    return duration_hours or most


def request_break_glass_grant(request: AccessRequest, group: AccessGroup) -> Membership:
    """Grant a new break-glass request at once (inside its creation, the group row locked)."""
    now = timezone.now()
    membership = grants.request_grant(
        request, group, by=None, now=now, source=MembershipSource.BREAK_GLASS
    )
    audit_record(
        action="request.break_glass",
        actor=request.requester,
        obj=request,
        access_group=group,
        subject=request.requester,
        message=request.justification,
        data={
            "membership": membership.pk,
            "duration_hours": request.duration_hours,
            "access_group_version": group.version,
            "review_due_at": review_due_at(request),
        },
    )
    notify.notify_break_glass_granted(request)
    return membership


def _review(request: AccessRequest, reviewer: User) -> None:
    refuse_self_grant(reviewer, request.requester)
    if not can_decide(reviewer, request.access_group):
        raise PermissionDenied(
            "Only the access group's approvers or an admin can review break-glass access."
        )
    if not request.break_glass:
        raise InvalidTransition(
            "This request is not break-glass access; there is nothing to acknowledge."
        )
    if request.break_glass_reviewed_at is not None:
        raise InvalidTransition(
            f"This break-glass access was already {request.break_glass_review_outcome} "
            f"by {request.break_glass_reviewed_by}."
        )


def break_glass_review_record(
    request: AccessRequest, *, reviewer: User, outcome: str, comment: str = ""
) -> None:
    """Record the review of a locked break-glass request (the caller ends access if revoked)."""
    _review(request, reviewer)
    now = timezone.now()
    AccessRequest.objects.filter(pk=request.pk).update(
        break_glass_reviewed_at=now,
        break_glass_reviewed_by=reviewer,
        break_glass_review_outcome=outcome,
        updated_at=now,
    )
    audit_record(
        action=f"request.break_glass_{outcome}",
        actor=reviewer,
        obj=request,
        access_group=request.access_group,
        subject=request.requester,
        message=(comment or "").strip(),
        data={"overdue": now > review_due_at(request)},
    )


def access_request_acknowledge(
    *, access_request: AccessRequest, reviewer: User, comment: str = ""
) -> AccessRequest:
    """An approver of the group (or an admin) accepts a break-glass use as justified."""
    with transaction.atomic():
        request = (
            AccessRequest.objects.select_for_update()
            .select_related("access_group", "requester")
            .get(pk=access_request.pk)
        )
        break_glass_review_record(
            request, reviewer=reviewer, outcome=BreakGlassReview.ACKNOWLEDGED, comment=comment
        )
    request.refresh_from_db()
    return request
