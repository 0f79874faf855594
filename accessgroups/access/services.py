"""The access workflow: requests, decisions, memberships.

Every function checks on the server that the actor may do what is asked and that the row is
in a status the action can start from, changes rows inside one transaction, writes an audit
event, and enqueues provisioning with ``transaction.on_commit``. Nothing here calls AWS.
Users are onboarded in accessgroups.identity, accounts and access groups configured in
accessgroups.catalogue.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accessgroups.access import break_glass as emergency
from accessgroups.access import grants, policies, sessions, timing
from accessgroups.access.grants import membership_grant  # noqa: F401 (part of this module's API)
from accessgroups.access.outcomes import (  # noqa: F401 (part of this module's API)
    membership_activated,
    membership_provisioning_failed,
)
from accessgroups.access.selectors import access_group_changes_since, access_group_grants
from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict, InvalidTransition
from accessgroups.core.roles import can_decide, eligibility_refusal, entitled_by, refuse_self_grant
from accessgroups.core.validators import validate_requested_duration
from accessgroups.mail import notify
from accessgroups.models import (
    OPEN_STATUSES,
    AccessGroup,
    AccessRequest,
    BreakGlassReview,
    Decision,
    DecisionOutcome,
    EndReason,
    Membership,
    ProvisioningStatus,
    RequestStatus,
    User,
)

# Requests that hold a membership which is, or is becoming, access.
LIVE_REQUEST_STATUSES = (
    RequestStatus.APPROVED,
    RequestStatus.PROVISIONING,
    RequestStatus.ACTIVE,
    RequestStatus.FAILED,
)


# Names kept here: tests and callers reach them through this module.
_sync_membership = grants.sync_membership
_extend = grants.extend


def _lock_request(access_request: AccessRequest) -> AccessRequest:
    return AccessRequest.objects.select_for_update().select_related("access_group", "requester").get(
        pk=access_request.pk
    )


# --- requests -----------------------------------------------------------------------------


NO_OP_REQUEST = "You already have this access, with no expiry: there is nothing to ask for."


def access_request_create(
    *,
    requester: User,
    access_group: AccessGroup,
    justification: str,
    duration_hours: int | None = None,
    break_glass: bool = False,
    starts_at: datetime | None = None,
) -> AccessRequest:
    """Ask for access. On an auto-approved group the portal approves it at once; with
    ``break_glass`` on a group that allows it, access is granted at once and reviewed later
    (accessgroups.access.policies, accessgroups.access.break_glass). ``starts_at`` delays
    provisioning until then (accessgroups.access.timing); break-glass is for now and
    ignores it."""
    if not requester.is_active:
        raise PermissionDenied("Inactive users cannot request access.")
    if access_group.is_archived or not access_group.requestable:
        raise ValidationError({"access_group": "This access group cannot be requested."})
    refusal = eligibility_refusal(requester, access_group)
    if refusal:
        raise PermissionDenied(refusal)
    justification = (justification or "").strip()
    if not justification:
        raise ValidationError({"justification": "Say why you need this access."})
    # Break-glass without a duration lasts as long as break-glass may.
    validate_requested_duration(
        duration_hours, None if break_glass else access_group.max_duration_hours
    )
    if break_glass:
        duration_hours = emergency.break_glass_check(
            requester=requester,
            group=access_group,
            justification=justification,
            duration_hours=duration_hours,
        )
    starts_at = None if break_glass else timing.validate_starts_at(starts_at)

    with transaction.atomic():
        if break_glass or access_group.auto_approve:
            # Granted at once: the group first, as approval and archiving take it.
            access_group = AccessGroup.objects.select_for_update().get(pk=access_group.pk)
            if access_group.is_archived or not access_group.requestable:
                raise ValidationError({"access_group": "This access group cannot be requested."})
        if AccessRequest.objects.open().filter(requester=requester, access_group=access_group).exists():
            raise Conflict("You already have an open request for this access group.", field="access_group")
        held = Membership.objects.active().filter(user=requester, access_group=access_group).first()
        extends = held is not None
        if held is not None and held.expires_at is None and held.duration_hours is None:
            # An "extension" of access that never ends would change nothing.
            raise ValidationError({"access_group": NO_OP_REQUEST})
        if extends and starts_at is not None:
            raise ValidationError(
                {"starts_at": "You have this access already; an extension starts at once."}
            )
        try:
            with transaction.atomic():
                request = AccessRequest.objects.create(
                    requester=requester,
                    access_group=access_group,
                    justification=justification,
                    duration_hours=duration_hours,
                    is_extension=extends,
                    approvals_required=access_group.approvals_required,
                    break_glass=break_glass,
                    starts_at=starts_at,
                )
        except IntegrityError:
            # Another request from the same person won the race for the open slot.
            raise Conflict(
                "You already have an open request for this access group.", field="access_group"
            ) from None
        audit_record(
            action="request.created",
            actor=requester,
            obj=request,
            access_group=access_group,
            subject=requester,
            data={
                "duration_hours": duration_hours,
                "extension": extends,
                "justification": justification,
                "approvals_required": request.approvals_required,
                "break_glass": break_glass,
                "starts_at": starts_at,
            },
        )
        if break_glass:
            emergency.request_break_glass_grant(request, access_group)
        elif access_group.auto_approve:
            policies.request_auto_approve(request, access_group)
        else:
            notify.notify_request_submitted(request)
    return request


def _decide(
    *, access_request: AccessRequest, approver: User, outcome: str, comment: str
) -> tuple[AccessRequest, Decision, dict[str, str]]:
    """Record the decision; also returns how the approver is entitled (roles.entitled_by)."""
    request = _lock_request(access_request)
    refuse_self_grant(approver, request.requester)
    how = entitled_by(approver, request.access_group)
    if how is None:
        raise PermissionDenied("Only the access group's approvers or an admin can decide this request.")
    if request.status != RequestStatus.PENDING:
        raise InvalidTransition(f"This request is {request.status}, not pending; it cannot be decided again.")
    version = request.access_group.version
    if request.decisions.filter(decided_by=approver, access_group_version=version).exists():
        # A quorum counts distinct people (the unique constraint says so too).
        raise InvalidTransition(
            "You have already approved this request; other approvers must decide now."
        )
    decision = Decision.objects.create(
        request=request,
        requester=request.requester,
        decided_by=approver,
        outcome=outcome,
        comment=(comment or "").strip(),
        access_group_version=version,
    )
    return request, decision, how


def access_request_approve(
    *,
    access_request: AccessRequest,
    approver: User,
    comment: str = "",
    access_group_version: int | None = None,
) -> AccessRequest:
    """Approve a pending request for what its group grants now.

    Each approval is a decision; the request stays pending until the quorum
    (``approvals_required`` distinct approvers on the group's current version) is reached,
    and the last approval grants. A high-risk group's approval needs a comment.
    ``access_group_version`` is the group's version the approver saw; when the group has
    changed since, the approval is refused (409) saying what changed, so nobody approves
    accounts or policies they were not shown. The request's duration is checked again
    against the group's current cap.
    """
    with transaction.atomic():
        # The group first, then the request: the order archiving takes them in.
        group = AccessGroup.objects.select_for_update().get(pk=access_request.access_group_id)
        request, decision, how = _decide(
            access_request=access_request, approver=approver, outcome=DecisionOutcome.APPROVE, comment=comment
        )
        if group.is_archived:
            raise InvalidTransition("This access group has been archived.")
        _check_version(group, access_group_version)
        refusal = eligibility_refusal(request.requester, group)
        if refusal:
            # Eligible when they asked, not any more (the IdP took them out of the group).
            raise Conflict(
                f"No longer eligible: {refusal} Reject the request.", field="access_group"
            )
        policies.require_risk_comment(group, decision.comment)
        _check_cap(group, request.duration_hours)
        request.approvals_required = policies.approvals_needed(request, group)
        approvals = policies.approvals_counted(request, group)
        if approvals < request.approvals_required:
            request.save(update_fields=["approvals_required", "updated_at"])
            audit_record(
                action="request.approval_recorded",
                actor=approver,
                obj=request,
                access_group=group,
                subject=request.requester,
                message=decision.comment,
                data={
                    "approvals": approvals,
                    "approvals_required": request.approvals_required,
                    "access_group_version": group.version,
                    "risk": group.risk,
                    "entitled_by": how,
                },
            )
            return request
        membership = grants.request_grant(
            request, group, by=approver, now=timezone.now(), sync_now=_sync_membership
        )
        audit_record(
            action="request.approved",
            actor=approver,
            obj=request,
            access_group=group,
            subject=request.requester,
            message=decision.comment,
            data={
                "membership": membership.pk,
                "expires_at": membership.expires_at,
                "extension": request.is_extension,
                "access_group_version": group.version,
                "duration_hours": request.duration_hours,
                "grants": access_group_grants(group),
                "entitled_by": how,
                "approvals": approvals,
                "approvals_required": request.approvals_required,
                "risk": group.risk,
                "starts_at": request.starts_at,
            },
        )
        notify.notify_request_decided(request)
        notify.notify_request_closed(request)
    return request


def _check_version(group: AccessGroup, seen: int | None) -> None:
    if seen is None or seen == group.version:
        return
    changed = access_group_changes_since(group, seen)
    what = ", ".join(changed) if changed else "its settings"
    raise Conflict(
        f"{group.name} has changed since you opened this request (version {seen}, now "
        f"{group.version}): {what}. Review what it grants now, then decide again.",
        field="access_group_version",
    )


def _check_cap(group: AccessGroup, duration_hours: int | None) -> None:
    cap = group.max_duration_hours
    if cap is None or (duration_hours is not None and duration_hours <= cap):
        return
    asked = "access that does not expire" if duration_hours is None else f"{duration_hours} hours"
    raise Conflict(
        f"{group.name} now grants access for at most {cap} hours and this request asks for "
        f"{asked}; reject it and ask for a new request within the limit.",
        field="duration_hours",
    )


def access_request_reject(*, access_request: AccessRequest, approver: User, comment: str = "") -> AccessRequest:
    with transaction.atomic():
        request, decision, how = _decide(
            access_request=access_request, approver=approver, outcome=DecisionOutcome.REJECT, comment=comment
        )
        request.status = RequestStatus.REJECTED
        request.save(update_fields=["status", "updated_at"])
        audit_record(
            action="request.rejected",
            actor=approver,
            obj=request,
            access_group=request.access_group,
            subject=request.requester,
            message=decision.comment,
            data={"entitled_by": how},
        )
        notify.notify_request_decided(request)
        notify.notify_request_closed(request)
    return request


def access_request_cancel(*, access_request: AccessRequest, user: User, comment: str = "") -> AccessRequest:
    """The requester (or an admin) withdraws an open request."""
    with transaction.atomic():
        request = _lock_request(access_request)
        if request.requester_id != user.pk and not user.is_admin:
            raise PermissionDenied("Only the requester or an admin can cancel a request.")
        if request.status not in OPEN_STATUSES:
            raise InvalidTransition(f"This request is {request.status}; only open requests can be cancelled.")
        was_pending = request.status == RequestStatus.PENDING
        request.status = RequestStatus.CANCELLED
        request.save(update_fields=["status", "updated_at"])
        if request.membership_id and not request.is_extension:
            membership_end(request.membership, reason=EndReason.REVOKED, by=user, comment="request cancelled")
        audit_record(
            action="request.cancelled",
            actor=user,
            obj=request,
            access_group=request.access_group,
            subject=request.requester,
            message=(comment or "").strip(),
        )
        if was_pending:
            # The approvers told of it need not look any more (an approved one told them).
            notify.notify_request_closed(request)
    return request


def access_request_revoke(*, access_request: AccessRequest, user: User, comment: str = "") -> AccessRequest:
    """End the access a request granted: its approvers, an admin, or the requester giving it up."""
    with transaction.atomic():
        request = _lock_request(access_request)
        if request.requester_id != user.pk and not can_decide(user, request.access_group):
            raise PermissionDenied("Only the group's approvers, an admin or the requester can revoke this access.")
        if request.break_glass_review_pending and request.requester_id != user.pk:
            # An approver's revocation of break-glass access is its review too; access that
            # has ended already is only marked as not justified.
            emergency.break_glass_review_record(
                request, reviewer=user, outcome=BreakGlassReview.REVOKED, comment=comment
            )
            if request.membership_id and request.membership.ended_at is None:
                membership_end(
                    request.membership, reason=EndReason.REVOKED, by=user, comment=comment
                )
            request.refresh_from_db()
            return request
        if request.status != RequestStatus.ACTIVE or request.membership_id is None:
            raise InvalidTransition(f"This request is {request.status}; only active access can be revoked.")
        membership_end(request.membership, reason=EndReason.REVOKED, by=user, comment=comment)
        request.refresh_from_db()
    return request


# --- memberships --------------------------------------------------------------------------


def can_revoke_membership(user: User, membership: Membership) -> bool:
    return user.is_active and (membership.user_id == user.pk or can_decide(user, membership.access_group))


def membership_revoke(*, membership: Membership, revoked_by: User, comment: str = "") -> Membership:
    if not can_revoke_membership(revoked_by, membership):
        raise PermissionDenied("Only the group's approvers, an admin or the member can revoke this access.")
    with transaction.atomic():
        membership_end(membership, reason=EndReason.REVOKED, by=revoked_by, comment=comment)
    membership.refresh_from_db()
    return membership


_REQUEST_STATUS_FOR_END = {
    EndReason.EXPIRED: RequestStatus.EXPIRED,
    EndReason.REVOKED: RequestStatus.REVOKED,
    EndReason.ARCHIVED: RequestStatus.REVOKED,
    EndReason.DEACTIVATED: RequestStatus.REVOKED,
}


def membership_end(
    membership: Membership, *, reason: str, by: User | None, comment: str = "", enqueue_sync: bool = True
) -> bool:
    """End-date a membership (never delete it). False when it had already ended.

    The one way access ends, whoever or whatever ends it (a revocation, expiry, an archived
    group, a deactivated user, an access review's deadline); callers check who may. The
    sessions the person may still hold on the group's permission set are revoked with it
    (accessgroups.access.sessions).
    """
    now = timezone.now()
    # Before the membership's row is touched: revoking sessions locks the group's row, which
    # approval takes first.
    revoke_sessions_of = sessions.session_revocation_begin(membership, reason=reason)
    ended = Membership.objects.filter(pk=membership.pk, ended_at__isnull=True).update(
        ended_at=now,
        end_reason=reason,
        ended_by=by,
        last_error="",
        **sync.pending_fields(),
    )
    if not ended:
        if reason == EndReason.EXPIRED:
            return False
        raise InvalidTransition("This access has already ended.")
    AccessRequest.objects.filter(membership=membership, status__in=LIVE_REQUEST_STATUSES).update(
        status=_REQUEST_STATUS_FOR_END[reason], updated_at=now
    )
    audit_record(
        action=f"membership.{reason}",
        actor=by,
        obj=membership,
        access_group=membership.access_group,
        subject=membership.user,
        message=(comment or "").strip(),
        data={"expires_at": membership.expires_at},
    )
    notify.notify_membership_ended(membership)
    if enqueue_sync:
        sync.sync_on_commit(Membership, membership.pk)
    if revoke_sessions_of:
        sessions.session_revoke(
            membership=membership,
            identity_center_user_id=revoke_sessions_of,
            ended_at=now,
            reason=reason,
            by=by,
        )
    return True


def memberships_expire(*, now: datetime) -> int:
    """End every time-limited membership whose expiry has passed; returns how many."""
    count = 0
    expiring = Membership.objects.expiring_before(now).select_related("user", "access_group")
    for membership in expiring.iterator(chunk_size=500):
        with transaction.atomic():
            count += membership_end(membership, reason=EndReason.EXPIRED, by=None)
    return count


def provisioning_retry(*, obj: User | AccessGroup | Membership, actor: User) -> None:
    """An admin asks for a failed row to be provisioned again."""
    if not actor.is_admin:
        raise PermissionDenied("Only admins retry provisioning.")
    model = type(obj)
    with transaction.atomic():
        updated = model.objects.filter(pk=obj.pk, provisioning_status=ProvisioningStatus.FAILED).update(
            **sync.pending_fields()
        )
        if not updated:
            raise InvalidTransition("Only a failed provisioning can be retried.")
        audit_record(action="provisioning.retry", actor=actor, obj=obj, data={"last_error": obj.last_error})
        if isinstance(obj, Membership):
            AccessRequest.objects.filter(membership=obj, status=RequestStatus.FAILED).update(
                status=RequestStatus.APPROVED, last_error="", updated_at=timezone.now()
            )
            _sync_membership(obj)
        else:
            sync.sync_on_commit(model, obj.pk)
