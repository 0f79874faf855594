"""Reads about access: what an approval is about, and access that has not verifiably ended.

An approver decides on what they saw; these reads let the workflow tell whether the group
changed since (and what), and record what the approval granted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    AuditEvent,
    Membership,
    PolicyKind,
    ProvisioningStatus,
    RequestStatus,
)

# What an access group's version counts: the changes to what it grants or who approves it,
# in the words an approver reads.
VERSIONED_FIELDS = {
    "accounts": "accounts",
    "organizational_units": "organizational units",
    "aws_managed_policies": "AWS managed policies",
    "customer_managed_policies": "customer managed policies",
    "inline_policy": "inline policy",
    "session_duration": "session duration",
    "approvers": "approvers",
    "approver_groups": "approver groups",
}
# Updates read back to say what changed since a version: far more than an approver's page
# can be behind by.
_CHANGES_LOOKBACK = 200


def access_group_changes_since(group: AccessGroup, version: int) -> list[str]:
    """What changed in the group after ``version``, in words, in the order of VERSIONED_FIELDS.

    Read from the audit log's ``access_group.updated`` events, which record each change and
    the version it made.
    """
    changed: set[str] = set()
    events = AuditEvent.objects.filter(
        access_group=group, action="access_group.updated"
    ).order_by("-sequence")[:_CHANGES_LOOKBACK]
    for data in events.values_list("data", flat=True):
        to = (data or {}).get("version", {}).get("to")
        if isinstance(to, int) and to > version:
            changed.update(data.keys() & VERSIONED_FIELDS.keys())
    return [words for field, words in VERSIONED_FIELDS.items() if field in changed]


def access_group_grants(group: AccessGroup) -> dict:
    """What a membership of the group grants now: for the audit event of an approval."""
    policies = list(group.current_policies())
    return {
        "account_ids": sorted(group.current_accounts().values_list("account_id", flat=True)),
        "aws_managed_policies": sorted(
            p.arn for p in policies if p.kind == PolicyKind.AWS_MANAGED
        ),
        "customer_managed_policies": sorted(
            f"{p.path}{p.name}" for p in policies if p.kind == PolicyKind.CUSTOMER_MANAGED
        ),
        "inline_policy": next((p.document for p in policies if p.kind == PolicyKind.INLINE), None),
        "session_duration": group.session_duration,
    }


def removals_pending() -> QuerySet[Membership]:
    """Ended memberships whose removal from Identity Center is not confirmed yet.

    Confirmed means provisioned in sync for the row's latest change (``in_sync`` and
    ``synced_generation == generation``): anything else (pending, provisioning, failed, or
    in sync for an earlier generation) may still leave the person in the group. An ended
    membership whose user and group have another, active membership is not a removal:
    the group membership in Identity Center stays for that one.
    """
    confirmed = Q(provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=F("generation"))
    still_granted = Membership.objects.filter(
        user=OuterRef("user"), access_group=OuterRef("access_group"), ended_at__isnull=True
    )
    return Membership.objects.filter(ended_at__isnull=False).exclude(confirmed).exclude(
        Exists(still_granted)
    )


def memberships_confirmed_not_activated() -> QuerySet[Membership]:
    """Active memberships Identity Center confirmed whose activation never ran.

    Provisioning marks a membership in sync, then activates it (its expiry starts, its
    requests become active) in a second transaction; a worker killed between the two leaves
    access granted in AWS that the portal shows as still provisioning, and that never
    expires. The dispatcher's run activates them.
    """
    return Membership.objects.filter(
        ended_at__isnull=True,
        activated_at__isnull=True,
        provisioning_status=ProvisioningStatus.IN_SYNC,
        synced_generation=F("generation"),
    )


# --- break-glass reviews (accessgroups.access.break_glass) -----------------------------------

# The admins are told again this long after the last alert, until someone reviews.
BREAK_GLASS_REALERT = timedelta(days=1)


def review_due_at(request: AccessRequest) -> datetime | None:
    """When an approver should have reviewed a break-glass request by."""
    if not request.break_glass:
        return None
    return request.created_at + timedelta(hours=settings.BREAK_GLASS_REVIEW_HOURS)


def break_glass_alert_due(now: datetime) -> Q:
    return Q(break_glass_alerted_at__isnull=True) | Q(
        break_glass_alerted_at__lte=now - BREAK_GLASS_REALERT
    )


def break_glass_reviews_overdue(*, now: datetime) -> QuerySet[AccessRequest]:
    """Break-glass requests nobody reviewed in time, not alerted about in the last day."""
    cutoff = now - timedelta(hours=settings.BREAK_GLASS_REVIEW_HOURS)
    return (
        AccessRequest.objects.filter(
            break_glass=True, break_glass_reviewed_at__isnull=True, created_at__lte=cutoff
        )
        .filter(break_glass_alert_due(now))
        .exclude(status=RequestStatus.PENDING)
        .order_by("created_at", "pk")
    )


def break_glass_reviews_for(user) -> QuerySet[AccessRequest]:
    """Break-glass use this user may review: of the groups they approve (all for an admin),
    never their own, not reviewed yet, oldest first."""
    requests = AccessRequest.objects.filter(
        break_glass=True, break_glass_reviewed_at__isnull=True
    ).exclude(status=RequestStatus.PENDING).exclude(requester=user)
    if not user.is_admin:
        requests = requests.filter(access_group__approvers=user)
    return requests.select_related("requester", "access_group", "membership").order_by(
        "created_at", "pk"
    )
