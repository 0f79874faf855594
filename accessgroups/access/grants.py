"""Turning a grant into access: one membership per user and group, or a longer one.

Shared by a person's approval, the portal's automatic approval, break-glass access
(accessgroups.access.services, .policies, .break_glass) and an admin's direct grant
(``membership_grant``), so that each grants the same way.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accessgroups.core import sync
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict
from accessgroups.core.limits import hours_after
from accessgroups.core.roles import refuse_self_grant
from accessgroups.core.validators import validate_requested_duration
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    Membership,
    MembershipExtension,
    MembershipSource,
    RequestStatus,
    User,
)


def sync_membership(membership: Membership) -> None:
    """Provision the membership after commit; its approved requests then wait on provisioning."""

    def handed_over() -> None:
        AccessRequest.objects.filter(
            membership_id=membership.pk, status=RequestStatus.APPROVED
        ).update(status=RequestStatus.PROVISIONING, updated_at=timezone.now())

    sync.sync_on_commit(Membership, membership.pk, then=handed_over)


def extend(
    membership: Membership, duration_hours: int | None, now: datetime, by: User | None
) -> None:
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


def request_grant(
    request: AccessRequest,
    group: AccessGroup,
    *,
    by: User | None,
    now: datetime,
    source: str = MembershipSource.REQUEST,
    sync_now=None,
) -> Membership:
    """Give the (locked) request its membership, or extend the one the requester has.

    ``by`` is the approver whose approval completed it (None: the portal or break-glass).
    Sets and saves the request's status and membership; the caller writes the audit event.
    """
    sync_now = sync_now or sync_membership
    membership = (
        Membership.objects.select_for_update()
        .filter(user=request.requester, access_group=group, ended_at__isnull=True)
        .first()
    )
    if membership is None:
        # A delayed start (accessgroups.access.timing): the membership holds the slot but
        # waits, pending and due at the start, so that nothing provisions it before then.
        scheduled = request.starts_at is not None and request.starts_at > now
        membership = Membership.objects.create(
            user=request.requester,
            access_group=group,
            source=source,
            justification=request.justification,
            granted_at=now,
            granted_by=by,
            duration_hours=request.duration_hours,
            due_at=request.starts_at if scheduled else now,
        )
        request.status = RequestStatus.APPROVED
        if not scheduled:
            sync_now(membership)
    else:
        extend(membership, request.duration_hours, now, by)
        request.status = RequestStatus.ACTIVE if membership.activated_at else RequestStatus.APPROVED
        if not membership.activated_at:
            sync_now(membership)
    request.membership = membership
    request.save(update_fields=["status", "membership", "updated_at"])
    return membership


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
            sync_membership(membership)
            action = "membership.granted"
        else:
            extend(membership, duration_hours, now, granted_by)
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
