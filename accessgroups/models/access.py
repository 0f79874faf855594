"""Access: requests, decisions, memberships and their extensions."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accessgroups.core.limits import hours_after
from accessgroups.models.catalogue import AccessGroup
from accessgroups.models.directory import approves
from accessgroups.models.identity import User
from accessgroups.models.provisioned import Provisioned


class MembershipSource(models.TextChoices):
    REQUEST = "request", "Request"
    ADMIN = "admin", "Admin grant"
    IMPORT = "import", "Import"
    BREAK_GLASS = "break_glass", "Break-glass"


class EndReason(models.TextChoices):
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    ARCHIVED = "archived", "Access group archived"
    DEACTIVATED = "deactivated", "User deactivated"


class MembershipQuerySet(models.QuerySet):
    def active(self) -> MembershipQuerySet:
        return self.filter(ended_at__isnull=True)

    def expiring_before(self, moment: datetime) -> MembershipQuerySet:
        return self.active().filter(expires_at__isnull=False, expires_at__lte=moment)

    def visible_to(self, user: User) -> MembershipQuerySet:
        if user.can_audit:
            return self
        return self.filter(Q(user=user) | approves(user, "access_group_id"))


class Membership(Provisioned):
    """A user in an access group. Ended memberships stay, end-dated, for history.

    While active the Identity Center group membership should exist; once ended it should
    not, unless another active membership of the same user and group covers it.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    access_group = models.ForeignKey(AccessGroup, on_delete=models.PROTECT, related_name="memberships")
    source = models.CharField(max_length=16, choices=MembershipSource.choices)
    justification = models.TextField(blank=True)
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # How long the grant lasts once active; expires_at is set when it becomes active.
    duration_hours = models.PositiveIntegerField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    ended_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    identity_center_membership_id = models.CharField(max_length=64, blank=True)
    # The expiry the last reminder mail was sent for (accessgroups.mail.services): one
    # reminder per expiry, and a new one when an extension moves the expiry.
    reminded_for = models.DateTimeField(null=True, blank=True)
    # When the admins were told that this ended membership's removal from Identity Center
    # is still not confirmed (accessgroups.core.dispatch): one mail per removal.
    removal_alerted_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at", "-id"]
        indexes = [
            # Lists of memberships, newest first (the API's, the failed ones on /manage/).
            models.Index(F("granted_at").desc(), F("id").desc(), name="membership_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                "user",
                "access_group",
                condition=Q(ended_at__isnull=True),
                name="membership_one_active_per_user_group",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("granted_at")),
                name="membership_expiry_after_grant",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("granted_at")),
                name="membership_end_after_grant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.access_group}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    def expiry_from(self, moment: datetime) -> datetime | None:
        if self.duration_hours is None:
            return None
        return hours_after(moment, self.duration_hours)


class MembershipExtension(models.Model):
    """A change of an active membership's expiry: the history behind point-in-time reports.

    The membership row keeps only its latest expiry. Each extension records the expiry it
    replaced, so the expiry in force at a past moment is the ``previous_expires_at`` of the
    first extension after that moment, or the membership's own when none came later.
    Expiry is only ever moved later or removed (``None``: no expiry), never shortened.
    """

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="extensions")
    changed_at = models.DateTimeField(default=timezone.now)
    previous_expires_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["membership", "changed_at"], name="membershipext_member_changed")
        ]

    def __str__(self) -> str:
        return f"{self.membership}: {self.previous_expires_at} → {self.expires_at or 'no expiry'}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    # Nobody decided within PENDING_REQUEST_TTL_HOURS (accessgroups.access.timing).
    TIMED_OUT = "timed_out", "Timed out"


class BreakGlassReview(models.TextChoices):
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    REVOKED = "revoked", "Revoked"


OPEN_STATUSES = (RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.PROVISIONING)


class AccessRequestQuerySet(models.QuerySet):
    def pending(self) -> AccessRequestQuerySet:
        return self.filter(status=RequestStatus.PENDING)

    def open(self) -> AccessRequestQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def visible_to(self, user: User) -> AccessRequestQuerySet:
        """Requests a user may see: their own, their groups', or all for auditors/admins."""
        if user.can_audit:
            return self
        return self.filter(Q(requester=user) | approves(user, "access_group_id"))

    def decidable_by(self, user: User) -> AccessRequestQuerySet:
        """Pending requests this user may approve or reject (never their own, nor those
        they approved already on the group's current version)."""
        decided = Decision.objects.filter(
            request=OuterRef("pk"),
            decided_by=user,
            access_group_version=OuterRef("access_group__version"),
        )
        qs = self.pending().exclude(requester=user).exclude(Exists(decided))
        if user.is_admin:
            return qs
        return qs.filter(approves(user, "access_group_id"))

    def with_pending_approvals(self) -> AccessRequestQuerySet:
        """Counts in SQL what ``AccessRequest.approvals`` counts of a pending request, as
        ``counted_approvals``: the distinct approvers (an automatic approval too) on the
        group's current version. The property then reads no decisions."""
        counted = (
            Decision.objects.filter(
                request=OuterRef("pk"),
                outcome__in=APPROVING_OUTCOMES,
                access_group_version=OuterRef("access_group__version"),
            )
            .order_by()
            .values("request")
            # An automatic approval has no approver and counts once, as the property's set
            # counts None once; ids are positive.
            .annotate(approvers=Count(Coalesce("decided_by", Value(0)), distinct=True))
            .values("approvers")
        )
        return self.annotate(counted_approvals=Coalesce(Subquery(counted), 0))


class AccessRequest(models.Model):
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="access_requests")
    access_group = models.ForeignKey(AccessGroup, on_delete=models.PROTECT, related_name="requests")
    justification = models.TextField()
    duration_hours = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    is_extension = models.BooleanField(default=False)
    membership = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="requests"
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Distinct approvals this request needs: the group's at creation, raised (never
    # lowered) when the group asks for more before the last approval.
    approvals_required = models.PositiveSmallIntegerField(default=1)
    # Access granted at once in an emergency; an approver reviews it afterwards
    # (accessgroups.access.break_glass).
    break_glass = models.BooleanField(default=False)
    break_glass_reviewed_at = models.DateTimeField(null=True, blank=True)
    break_glass_reviewed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    break_glass_review_outcome = models.CharField(
        max_length=16, choices=BreakGlassReview.choices, blank=True
    )
    # When the admins were last told that the review is overdue: once a day until reviewed.
    break_glass_alerted_at = models.DateTimeField(null=True, blank=True)
    # A delayed start (accessgroups.access.timing): once approved, access is provisioned
    # at this moment, not before; null: at once.
    starts_at = models.DateTimeField(null=True, blank=True)
    # When the approvers were last reminded of this pending request (accessgroups.mail.
    # reminders); a run claims the requests it reminds of by setting it to its own moment.
    approvers_reminded_at = models.DateTimeField(null=True, blank=True)

    objects = AccessRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Lists of requests newest first: all of them, and a requester's own.
            models.Index(F("created_at").desc(), F("id").desc(), name="accessrequest_recent"),
            models.Index(
                "requester", F("created_at").desc(), F("id").desc(), name="accessrequest_mine"
            ),
            # The approvers' queue: pending requests, oldest first.
            models.Index("status", "created_at", "id", name="accessrequest_status_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                "requester",
                "access_group",
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
                name="accessrequest_one_open_per_requester_group",
            ),
            models.CheckConstraint(
                condition=Q(duration_hours__isnull=True) | Q(duration_hours__gt=0),
                name="accessrequest_duration_positive",
            ),
            models.CheckConstraint(
                condition=~Q(break_glass_reviewed_by=F("requester")),
                name="accessrequest_break_glass_not_self_reviewed",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.requester} → {self.access_group} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def expires_at(self) -> datetime | None:
        return self.membership.expires_at if self.membership_id else None

    @property
    def approvals(self) -> int:
        """Distinct approvals that count (an automatic one too); reads prefetched decisions,
        or, for a pending request, the count ``with_pending_approvals()`` made in SQL.

        While pending, only approvals of the group's current version count: an approval of
        what the group granted before a change is not one of what it grants now.
        """
        pending = self.status == RequestStatus.PENDING
        counted = self.__dict__.get("counted_approvals")  # with_pending_approvals()
        if pending and counted is not None:
            return counted
        return len(
            {
                d.decided_by_id
                for d in self.decisions.all()
                if d.outcome in APPROVING_OUTCOMES
                and (not pending or d.access_group_version == self.access_group.version)
            }
        )

    @property
    def break_glass_review_pending(self) -> bool:
        return self.break_glass and self.break_glass_reviewed_at is None


class DecisionOutcome(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    AUTO = "auto", "Approved automatically"


APPROVING_OUTCOMES = (DecisionOutcome.APPROVE, DecisionOutcome.AUTO)


class Decision(models.Model):
    request = models.ForeignKey(AccessRequest, on_delete=models.PROTECT, related_name="decisions")
    # A copy of the request's requester, so that the database itself refuses self-approval.
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # None: the portal decided (outcome ``auto``).
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    outcome = models.CharField(max_length=8, choices=DecisionOutcome.choices)
    comment = models.TextField(blank=True)
    # The access group's version this decision was made on (an approval binds to it).
    access_group_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # An approver's decision history, newest first (/approvals/).
            models.Index(
                "decided_by", F("created_at").desc(), F("id").desc(), name="decision_decider_recent"
            ),
        ]
        constraints = [
            # A quorum counts distinct people: nobody decides the same request twice on the
            # same version of its group (after a change, approvals are given again).
            models.UniqueConstraint(
                "request", "decided_by", "access_group_version", name="decision_one_per_person"
            ),
            # The portal decides alone, once.
            models.UniqueConstraint(
                "request", condition=Q(decided_by__isnull=True), name="decision_one_automatic"
            ),
            models.CheckConstraint(
                condition=~Q(decided_by=F("requester")), name="decision_not_by_requester"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True, outcome="auto")
                | (Q(decided_by__isnull=False) & ~Q(outcome="auto")),
                name="decision_auto_has_no_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} of #{self.request_id} by {self.decided_by}"
