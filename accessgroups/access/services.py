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

from accessgroups.access import sessions
from accessgroups.access.outcomes import (  # noqa: F401 (part of this module's API)
    membership_activated,
    membership_provisioning_failed,
)
from accessgroups.access.selectors import access_group_changes_since, access_group_grants
from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict, InvalidTransition
from accessgroups.core.limits import hours_after
from accessgroups.core.roles import can_decide, refuse_self_grant
from accessgroups.core.validators import validate_requested_duration
from accessgroups.mail import notify
from accessgroups.models import (
    OPEN_STATUSES,
    AccessGroup,
    AccessRequest,
    Decision,
    DecisionOutcome,
    EndReason,
    Membership,
    MembershipExtension,
    MembershipSource,
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


def _sync_membership(membership: Membership) -> None:
    """Provision the membership after commit; its approved requests then wait on provisioning."""

    def handed_over() -> None:
        AccessRequest.objects.filter(membership_id=membership.pk, status=RequestStatus.APPROVED).update(
            status=RequestStatus.PROVISIONING, updated_at=timezone.now()
        )

    sync.sync_on_commit(Membership, membership.pk, then=handed_over)


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
) -> AccessRequest:
    if not requester.is_active:
        raise PermissionDenied("Inactive users cannot request access.")
    if access_group.is_archived or not access_group.requestable:
        raise ValidationError({"access_group": "This access group cannot be requested."})
    justification = (justification or "").strip()
    if not justification:
        raise ValidationError({"justification": "Say why you need this access."})
    validate_requested_duration(duration_hours, access_group.max_duration_hours)

    with transaction.atomic():
        if AccessRequest.objects.open().filter(requester=requester, access_group=access_group).exists():
            raise Conflict("You already have an open request for this access group.", field="access_group")
        held = Membership.objects.active().filter(user=requester, access_group=access_group).first()
        extends = held is not None
        if held is not None and held.expires_at is None and held.duration_hours is None:
            # An "extension" of access that never ends would change nothing.
            raise ValidationError({"access_group": NO_OP_REQUEST})
        try:
            with transaction.atomic():
                request = AccessRequest.objects.create(
                    requester=requester,
                    access_group=access_group,
                    justification=justification,
                    duration_hours=duration_hours,
                    is_extension=extends,
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
            data={"duration_hours": duration_hours, "extension": extends, "justification": justification},
        )
        notify.notify_request_submitted(request)
    return request


def _decide(
    *, access_request: AccessRequest, approver: User, outcome: str, comment: str
) -> tuple[AccessRequest, Decision]:
    request = _lock_request(access_request)
    refuse_self_grant(approver, request.requester)
    if not can_decide(approver, request.access_group):
        raise PermissionDenied("Only the access group's approvers or an admin can decide this request.")
    if request.status != RequestStatus.PENDING:
        raise InvalidTransition(f"This request is {request.status}, not pending; it cannot be decided again.")
    decision = Decision.objects.create(
        request=request,
        requester=request.requester,
        decided_by=approver,
        outcome=outcome,
        comment=(comment or "").strip(),
    )
    return request, decision


def access_request_approve(
    *,
    access_request: AccessRequest,
    approver: User,
    comment: str = "",
    access_group_version: int | None = None,
) -> AccessRequest:
    """Approve a pending request for what its group grants now.

    ``access_group_version`` is the group's version the approver saw; when the group has
    changed since, the approval is refused (409) saying what changed, so nobody approves
    accounts or policies they were not shown. The request's duration is checked again
    against the group's current cap.
    """
    with transaction.atomic():
        # The group first, then the request: the order archiving takes them in.
        group = AccessGroup.objects.select_for_update().get(pk=access_request.access_group_id)
        request, decision = _decide(
            access_request=access_request, approver=approver, outcome=DecisionOutcome.APPROVE, comment=comment
        )
        if group.is_archived:
            raise InvalidTransition("This access group has been archived.")
        _check_version(group, access_group_version)
        _check_cap(group, request.duration_hours)
        now = timezone.now()
        membership = (
            Membership.objects.select_for_update()
            .filter(user=request.requester, access_group=group, ended_at__isnull=True)
            .first()
        )
        if membership is None:
            membership = Membership.objects.create(
                user=request.requester,
                access_group=group,
                source=MembershipSource.REQUEST,
                justification=request.justification,
                granted_at=now,
                granted_by=approver,
                duration_hours=request.duration_hours,
            )
            request.status = RequestStatus.APPROVED
            _sync_membership(membership)
        else:
            _extend(membership, request.duration_hours, now, approver)
            request.status = RequestStatus.ACTIVE if membership.activated_at else RequestStatus.APPROVED
            if not membership.activated_at:
                _sync_membership(membership)
        request.membership = membership
        request.save(update_fields=["status", "membership", "updated_at"])
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
            },
        )
        notify.notify_request_decided(request)
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


def _extend(membership: Membership, duration_hours: int | None, now: datetime, by: User) -> None:
    """Move an existing membership's expiry; never shorten it, never add a second one.

    A moved expiry is kept as a ``MembershipExtension``, so that reports of a past moment
    show the expiry in force then.
    """
    if membership.activated_at is None:
        # Not active yet: expiry will count from activation.
        if membership.duration_hours is not None:
            membership.duration_hours = (
                None if duration_hours is None else max(duration_hours, membership.duration_hours)
            )
        membership.save(update_fields=["duration_hours"])
        return
    previous = membership.expires_at
    if duration_hours is None:
        membership.expires_at = None
    elif membership.expires_at is not None:
        membership.expires_at = max(membership.expires_at, hours_after(now, duration_hours))
    membership.duration_hours = duration_hours
    membership.save(update_fields=["expires_at", "duration_hours"])
    if membership.expires_at != previous:
        MembershipExtension.objects.create(
            membership=membership,
            changed_at=now,
            previous_expires_at=previous,
            expires_at=membership.expires_at,
            changed_by=by,
        )


def access_request_reject(*, access_request: AccessRequest, approver: User, comment: str = "") -> AccessRequest:
    with transaction.atomic():
        request, decision = _decide(
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
        )
        notify.notify_request_decided(request)
    return request


def access_request_cancel(*, access_request: AccessRequest, user: User, comment: str = "") -> AccessRequest:
    """The requester (or an admin) withdraws an open request."""
    with transaction.atomic():
        request = _lock_request(access_request)
        if request.requester_id != user.pk and not user.is_admin:
            raise PermissionDenied("Only the requester or an admin can cancel a request.")
        if request.status not in OPEN_STATUSES:
            raise InvalidTransition(f"This request is {request.status}; only open requests can be cancelled.")
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
    return request


def access_request_revoke(*, access_request: AccessRequest, user: User, comment: str = "") -> AccessRequest:
    """End the access a request granted: its approvers, an admin, or the requester giving it up."""
    with transaction.atomic():
        request = _lock_request(access_request)
        if request.requester_id != user.pk and not can_decide(user, request.access_group):
            raise PermissionDenied("Only the group's approvers, an admin or the requester can revoke this access.")
        if request.status != RequestStatus.ACTIVE or request.membership_id is None:
            raise InvalidTransition(f"This request is {request.status}; only active access can be revoked.")
        membership_end(request.membership, reason=EndReason.REVOKED, by=user, comment=comment)
        request.refresh_from_db()
    return request


# --- memberships --------------------------------------------------------------------------


def membership_grant(
    *,
    user: User,
    access_group: AccessGroup,
    granted_by: User,
    justification: str,
    duration_hours: int | None = None,
    source: str = MembershipSource.ADMIN,
) -> Membership:
    """An admin grant, audited like a request; extends an active membership instead of adding one."""
    if not granted_by.is_admin:
        raise PermissionDenied("Only admins grant access directly.")
    refuse_self_grant(granted_by, user)
    if not user.is_active:
        raise ValidationError({"user": "This user is deactivated."})
    if access_group.is_archived:
        raise ValidationError({"access_group": "This access group has been archived."})
    justification = (justification or "").strip()
    if not justification:
        raise ValidationError({"justification": "Say why this access is granted."})
    validate_requested_duration(duration_hours, None)
    with transaction.atomic():
        now = timezone.now()
        membership = (
            Membership.objects.select_for_update()
            .filter(user=user, access_group=access_group, ended_at__isnull=True)
            .first()
        )
        if membership is None:
            try:
                with transaction.atomic():
                    membership = Membership.objects.create(
                        user=user,
                        access_group=access_group,
                        source=source,
                        justification=justification,
                        granted_at=now,
                        granted_by=granted_by,
                        duration_hours=duration_hours,
                    )
            except IntegrityError:
                raise Conflict("This user was just given this access by someone else.", field="user") from None
            _sync_membership(membership)
            action = "membership.granted"
        else:
            _extend(membership, duration_hours, now, granted_by)
            action = "membership.extended"
        audit_record(
            action=action,
            actor=granted_by,
            obj=membership,
            access_group=access_group,
            subject=user,
            message=justification,
            data={"duration_hours": duration_hours, "source": source, "expires_at": membership.expires_at},
        )
    return membership


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
