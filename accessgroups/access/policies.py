"""Approval policies of an access group: quorum, automatic approval, break-glass, risk.

The rules live here once, for the catalogue (what an admin may configure), the workflow
(what an approval needs) and the surfaces (what the portal suggests). The decision note is
docs/decisions/0016-approval-policies.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from accessgroups.access import grants
from accessgroups.core.audit import audit_record
from accessgroups.core.roles import possible_approvers
from accessgroups.mail import notify
from accessgroups.models.directory import approves
from accessgroups.models import (
    APPROVALS_REQUIRED_MAX,
    APPROVING_OUTCOMES,
    AccessGroup,
    AccessRequest,
    Decision,
    DecisionOutcome,
    IdentityCenterGroup,
    Risk,
    User,
)

POLICY_FIELDS = ("approvals_required", "auto_approve", "break_glass", "risk")
# The policies validate_group_policies checks together (with the approvers).
QUORUM_INPUTS = ("approvals_required", "auto_approve", "risk")

RISK_COMMENT_REQUIRED = (
    "This access group is high risk: say why you approve (a comment is required)."
)


def quorum_shortfall(group: AccessGroup) -> int | None:
    """How many possible approvers the group lacks for its quorum; None when it has enough.

    A quorum is checked when it is set, but approvers leave afterwards (deactivated, out
    of an approver group): then only admins can make up the number, and the admins' pages
    and reminders say so.
    """
    if group.approvals_required <= 1:
        return None
    possible = possible_approvers(group).count()
    return group.approvals_required - possible if possible < group.approvals_required else None


def groups_short_of(approver: User) -> list[tuple[AccessGroup, int]]:
    """The live groups ``approver`` approves whose quorum is short, with how many are lacking."""
    groups = AccessGroup.objects.live().filter(approvals_required__gt=1).filter(
        approves(approver)
    ).order_by("name")
    found = []
    for group in groups:
        lacking = quorum_shortfall(group)
        if lacking:
            found.append((group, lacking))
    return found


def groups_left_short(*, approver: User, actor: User | None) -> list[str]:
    """After ``approver`` left: audit each live group whose quorum they leave short."""
    short = groups_short_of(approver)
    for group, lacking in short:
        audit_record(
            action="access_group.quorum_short",
            actor=actor,
            obj=group,
            access_group=group,
            data={
                "approvals_required": group.approvals_required,
                "possible_approvers": group.approvals_required - lacking,
                "left": approver.username,
            },
        )
    return [group.name for group, _ in short]


# --- what an admin may configure -------------------------------------------------------------


def clean_approvals_required(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= APPROVALS_REQUIRED_MAX
    ):
        raise ValidationError(
            {"approvals_required": f"Give a whole number from 1 to {APPROVALS_REQUIRED_MAX}."}
        )
    return value


def clean_risk(value: Any) -> str:
    if value not in Risk.values:
        raise ValidationError({"risk": f"Use one of {', '.join(Risk.values)}."})
    return value


def validate_group_policies(
    *,
    approvals_required: int,
    auto_approve: bool,
    risk: str,
    approvers: Iterable[User],
    approver_groups: Iterable[IdentityCenterGroup] = (),
) -> None:
    """Cross-field rules on the group's state after a change, keyed by the field to fix.

    A quorum above one may not exceed the group's possible approvers (accessgroups.core.roles).
    The requester is left out per request, not here: a requester who is also an approver
    leaves one short, and an admin makes up the number (docs/decisions/0016-approval-policies.md). A quorum of
    one is always reachable, by an admin if nobody else.
    """
    errors: dict[str, str] = {}
    if approvals_required > 1:
        possible = possible_approvers(
            approvers=approvers, approver_groups=approver_groups
        ).count()
        if approvals_required > possible:
            errors["approvals_required"] = (
                f"{approvals_required} approvals are required but the group has only "
                f"{possible} possible approver{'s' if possible != 1 else ''}; name more "
                "approvers (by name or by group) or require fewer approvals."
            )
    if auto_approve and approvals_required > 1:
        errors["auto_approve"] = (
            "A group approved automatically cannot also require several approvals; choose one."
        )
    if auto_approve and risk == Risk.HIGH:
        errors["auto_approve"] = (
            "A high-risk group cannot be approved automatically: a person must approve it "
            "with a comment."
        )
    if errors:
        raise ValidationError(errors)


# --- what an approval needs ------------------------------------------------------------------


def require_risk_comment(group: AccessGroup, comment: str) -> None:
    if group.risk == Risk.HIGH and not (comment or "").strip():
        raise ValidationError({"comment": RISK_COMMENT_REQUIRED})


def approvals_counted(request: AccessRequest, group: AccessGroup) -> int:
    """Distinct approvals on the group's current version: an approval of what the group
    granted before a change does not count for what it grants now."""
    return (
        request.decisions.filter(outcome__in=APPROVING_OUTCOMES, access_group_version=group.version)
        .values("decided_by")
        .distinct()
        .count()
    )


def approvals_needed(request: AccessRequest, group: AccessGroup) -> int:
    """The request's quorum: raised, never lowered, to the group's current one."""
    return max(request.approvals_required, group.approvals_required)


# --- the portal approves -----------------------------------------------------------------------


def request_auto_approve(request: AccessRequest, group: AccessGroup) -> None:
    """Approve a new request of an auto-approved group at once, as the portal.

    Called inside the request's creation with the group row locked; the decision has no
    person (``decided_by`` null, outcome ``auto``) and is audited without an actor.
    """
    now = timezone.now()
    Decision.objects.create(
        request=request,
        requester=request.requester,
        decided_by=None,
        outcome=DecisionOutcome.AUTO,
        access_group_version=group.version,
        created_at=now,
    )
    membership = grants.request_grant(request, group, by=None, now=now)
    audit_record(
        action="request.auto_approved",
        actor=None,
        obj=request,
        access_group=group,
        subject=request.requester,
        data={
            "membership": membership.pk,
            "expires_at": membership.expires_at,
            "extension": request.is_extension,
            "access_group_version": group.version,
            "duration_hours": request.duration_hours,
            "policy": "auto_approve",
        },
    )
    notify.notify_request_decided(request)
