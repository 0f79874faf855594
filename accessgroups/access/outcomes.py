"""What provisioning reports back about a membership: it exists in Identity Center, or it
could not be made. Provisioning calls these; accessgroups.access.services re-exports them.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accessgroups.access import sessions
from accessgroups.core.audit import audit_record
from accessgroups.mail import notify
from accessgroups.models import AccessRequest, Membership, RequestStatus


def membership_activated(*, membership_id: int) -> None:
    """Called by provisioning once the Identity Center membership exists."""
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership_id)
        if membership.ended_at is not None:
            return
        if membership.activated_at is None:
            membership.activated_at = timezone.now()
            membership.expires_at = membership.expiry_from(membership.activated_at)
            membership.save(update_fields=["activated_at", "expires_at"])
            audit_record(
                action="membership.activated",
                obj=membership,
                access_group=membership.access_group,
                subject=membership.user,
                data={"expires_at": membership.expires_at},
            )
            notify.notify_membership_activated(membership)
        AccessRequest.objects.filter(
            membership=membership,
            status__in=(RequestStatus.APPROVED, RequestStatus.PROVISIONING, RequestStatus.FAILED),
        ).update(status=RequestStatus.ACTIVE, last_error="", updated_at=timezone.now())
    # After the membership's transaction: lifting locks the group's row, which approval
    # takes before the membership's.
    sessions.session_revocations_lift_regranted(membership=membership)


def membership_provisioning_failed(*, membership_id: int, error: str) -> None:
    """Called by provisioning when a membership could not be made; its requests show why."""
    AccessRequest.objects.filter(
        membership_id=membership_id, status__in=(RequestStatus.APPROVED, RequestStatus.PROVISIONING)
    ).update(status=RequestStatus.FAILED, last_error=error, updated_at=timezone.now())
