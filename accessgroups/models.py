"""The portal's domain: who may reach which AWS accounts, and why.

The database says what *should* be true in IAM Identity Center; provisioning/ makes it so.
Rows that have an Identity Center side carry a provisioning status and the last error.
History is never deleted: memberships are end-dated, an access group's accounts and
policies are dated versions, and audit events are append-only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accessgroups.validators import parse_session_duration


class ProvisioningStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONING = "provisioning", "Provisioning"
    IN_SYNC = "in_sync", "In sync"
    FAILED = "failed", "Failed"


class Provisioned(models.Model):
    """A row whose Identity Center side is made to match it by a Celery task.

    ``generation`` counts changes that need provisioning. A task claims the row, does the
    work for the generation it read, and marks the row in sync only if nothing changed
    meanwhile; otherwise the row goes back to pending and another run is enqueued.
    """

    provisioning_status = models.CharField(
        max_length=16, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )
    last_error = models.TextField(blank=True)
    generation = models.PositiveIntegerField(default=1)
    synced_generation = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class PortalUserManager(UserManager):
    def get_by_natural_key(self, username: str) -> User:
        # Sign-in accepts the username; email look-ups go through for_email().
        return self.get(**{self.model.USERNAME_FIELD: username})

    def for_email(self, email: str) -> models.QuerySet[User]:
        return self.filter(email__iexact=email.strip())

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # `createsuperuser --noinput` gives only username, email and password; a
        # superuser can be onboarded into Identity Center once names are filled in.
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser, Provisioned):
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]

    email = models.EmailField("email address")
    given_name = models.CharField(max_length=64, blank=True)
    family_name = models.CharField(max_length=64, blank=True)
    display_name = models.CharField(max_length=128, blank=True)
    is_auditor = models.BooleanField(default=False)
    is_portal_admin = models.BooleanField(default=False)

    identity_center_user_id = models.CharField(max_length=64, blank=True)
    # A user is onboarded into Identity Center only when the portal is asked to (the
    # onboarding API, or their first granted access); demo and local-only users are not.
    onboarding_requested = models.BooleanField(default=False)

    objects = PortalUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.is_superuser or self.is_portal_admin)

    @property
    def can_audit(self) -> bool:
        return self.is_active and (self.is_auditor or self.is_admin)

    @property
    def roles(self) -> list[str]:
        roles = []
        if self.is_auditor:
            roles.append("auditor")
        if self.is_portal_admin or self.is_superuser:
            roles.append("admin")
        return roles

    @property
    def effective_display_name(self) -> str:
        return self.display_name or f"{self.given_name} {self.family_name}".strip()

    def missing_identity_fields(self) -> list[str]:
        """Fields Identity Center requires that this user lacks."""
        return [f for f in ("email", "given_name", "family_name") if not getattr(self, f)]

    def store_identity_center_id(self, user_id: str) -> None:
        """Keep the Identity Center UserId found, created or imported for this user.

        The row then says the user is onboarded too, unless a provisioning task holds it and
        will say so itself.
        """
        User.objects.filter(pk=self.pk).update(identity_center_user_id=user_id)
        self.identity_center_user_id = user_id
        User.objects.filter(pk=self.pk).exclude(
            provisioning_status__in=(ProvisioningStatus.IN_SYNC, ProvisioningStatus.PROVISIONING)
        ).update(
            provisioning_status=ProvisioningStatus.IN_SYNC,
            synced_generation=F("generation"),
            last_error="",
            onboarding_requested=True,
            provisioned_at=timezone.now(),
        )


class AccountStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    PENDING_CLOSURE = "PENDING_CLOSURE", "Pending closure"


class AccountSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    ORGANIZATIONS = "organizations", "AWS Organizations"


class Account(models.Model):
    account_id = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=128)
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    source = models.CharField(max_length=16, choices=AccountSource.choices, default=AccountSource.MANUAL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "account_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"


class AccessGroupQuerySet(models.QuerySet):
    def live(self) -> AccessGroupQuerySet:
        return self.filter(archived_at__isnull=True)

    def requestable(self) -> AccessGroupQuerySet:
        return self.live().filter(requestable=True)


class AccessGroup(Provisioned):
    """Identity Center group + permission set + account assignments, as one thing."""

    name = models.CharField(max_length=32)
    description = models.TextField(blank=True)
    session_duration = models.CharField(max_length=16, default="PT1H")
    requestable = models.BooleanField(default=True)
    max_duration_hours = models.PositiveIntegerField(null=True, blank=True)
    applications_note = models.TextField(
        blank=True, help_text="Applications attached by hand in Identity Center (no API does it)."
    )
    approvers = models.ManyToManyField(User, related_name="approver_of", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    identity_center_group_id = models.CharField(max_length=64, blank=True)
    permission_set_arn = models.CharField(max_length=256, blank=True)

    objects = AccessGroupQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "name", condition=Q(archived_at__isnull=True), name="accessgroup_name_unique_live"
            ),
            models.CheckConstraint(
                condition=Q(max_duration_hours__isnull=True) | Q(max_duration_hours__gt=0),
                name="accessgroup_max_duration_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def session_duration_label(self) -> str:
        """``PT1H30M`` as people say it: ``1 hour 30 minutes``."""
        duration = parse_session_duration(self.session_duration)
        if duration is None:
            return self.session_duration
        hours, rest = divmod(int(duration.total_seconds()), 3600)
        parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
        if rest // 60:
            parts.append(f"{rest // 60} minute{'s' if rest // 60 != 1 else ''}")
        return " ".join(parts) or self.session_duration

    def current_accounts(self) -> models.QuerySet[Account]:
        return Account.objects.filter(
            group_links__access_group=self, group_links__valid_to__isnull=True
        )

    def current_policies(self) -> models.QuerySet[AccessGroupPolicy]:
        return self.policies.filter(valid_to__isnull=True)


class AccessGroupAccount(models.Model):
    """One dated version of "this access group grants this account".

    While current (``valid_to`` empty) the account assignment should exist in Identity
    Center; once ended it should not. Its provisioning status is the assignment's.
    """

    access_group = models.ForeignKey(AccessGroup, on_delete=models.PROTECT, related_name="account_links")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="group_links")
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    provisioning_status = models.CharField(
        max_length=16, choices=ProvisioningStatus.choices, default=ProvisioningStatus.PENDING
    )
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["access_group", "account", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                "access_group",
                "account",
                condition=Q(valid_to__isnull=True),
                name="accessgroupaccount_one_current",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="accessgroupaccount_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.access_group} → {self.account}"


class PolicyKind(models.TextChoices):
    AWS_MANAGED = "aws_managed", "AWS managed"
    CUSTOMER_MANAGED = "customer_managed", "Customer managed"
    INLINE = "inline", "Inline"


class AccessGroupPolicy(models.Model):
    """One dated version of a policy on an access group's permission set."""

    access_group = models.ForeignKey(AccessGroup, on_delete=models.PROTECT, related_name="policies")
    kind = models.CharField(max_length=20, choices=PolicyKind.choices)
    arn = models.CharField(max_length=2048, blank=True)  # AWS managed
    name = models.CharField(max_length=128, blank=True)  # customer managed
    path = models.CharField(max_length=512, blank=True, default="/")  # customer managed
    document = models.JSONField(null=True, blank=True)  # inline
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["access_group", "kind", "arn", "path", "name", "valid_from"]
        verbose_name_plural = "access group policies"
        constraints = [
            models.UniqueConstraint(
                "access_group",
                condition=Q(kind="inline", valid_to__isnull=True),
                name="accessgrouppolicy_one_inline",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="accessgrouppolicy_valid_range",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == PolicyKind.AWS_MANAGED:
            return self.arn
        if self.kind == PolicyKind.CUSTOMER_MANAGED:
            return f"{self.path}{self.name}"
        return "inline policy"

    @property
    def label(self) -> str:
        """How people name it: ``ReadOnlyAccess (AWS managed)``, ``/team/Deploy (customer managed)``."""
        if self.kind == PolicyKind.AWS_MANAGED:
            return f"{self.arn.rsplit('/', 1)[-1]} (AWS managed)"
        if self.kind == PolicyKind.CUSTOMER_MANAGED:
            return f"{self.path}{self.name} (customer managed)"
        return "inline policy"


class MembershipSource(models.TextChoices):
    REQUEST = "request", "Request"
    ADMIN = "admin", "Admin grant"
    IMPORT = "import", "Import"


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
        return self.filter(Q(user=user) | Q(access_group__approvers=user)).distinct()


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
    # The expiry the last reminder mail was sent for (accessgroups.notifications): one
    # reminder per expiry, and a new one when an extension moves the expiry.
    reminded_for = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at", "-id"]
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
        return moment + timedelta(hours=self.duration_hours)


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
        return self.filter(Q(requester=user) | Q(access_group__approvers=user)).distinct()

    def decidable_by(self, user: User) -> AccessRequestQuerySet:
        """Pending requests this user may approve or reject (never their own)."""
        qs = self.pending().exclude(requester=user)
        if user.is_admin:
            return qs
        return qs.filter(access_group__approvers=user).distinct()


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

    objects = AccessRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
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
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.requester} → {self.access_group} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def expires_at(self) -> datetime | None:
        return self.membership.expires_at if self.membership_id else None


class DecisionOutcome(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class Decision(models.Model):
    request = models.ForeignKey(AccessRequest, on_delete=models.PROTECT, related_name="decisions")
    # A copy of the request's requester, so that the database itself refuses self-approval.
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="decisions")
    outcome = models.CharField(max_length=8, choices=DecisionOutcome.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint("request", name="decision_one_per_request"),
            models.CheckConstraint(
                condition=~Q(decided_by=F("requester")), name="decision_not_by_requester"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} of #{self.request_id} by {self.decided_by}"


class AuditEvent(models.Model):
    """Append-only record of a change to access or its configuration.

    ``sequence`` is gap-free and ``hash`` chains each event to the one before it; ``seal``
    is an HMAC of ``hash`` under a key derived from SECRET_KEY, so a chain recomputed without
    that key shows (empty on events written before sealing began). Database triggers refuse
    UPDATE and DELETE (see the migration). Write through accessgroups.audit.
    """

    sequence = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(User, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+", db_constraint=False)
    actor_username = models.CharField(max_length=150, blank=True)
    # Long enough for "identity_center." plus the longest Identity Center operation name.
    action = models.CharField(max_length=128)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    access_group = models.ForeignKey(
        AccessGroup, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+", db_constraint=False
    )
    subject = models.ForeignKey(
        User, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+", db_constraint=False
    )
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Not in the hashed content (it is computed from the hash): existing chains stay valid.
    seal = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["action", "sequence"], name="auditevent_action_seq"),
            models.Index(fields=["object_type", "object_id"], name="auditevent_object"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence} {self.action} {self.object_type}:{self.object_id}"


# --- Access reviews (accessgroups/review_services.py) -----------------------------------------


class ReviewOnDeadline(models.TextChoices):
    REVOKE = "revoke", "Revoke what was not reviewed"
    FLAG = "flag", "Flag what was not reviewed"


class AccessReview(models.Model):
    """A periodic check that current access is still wanted, of one access group or account.

    Opening it gives every active membership in scope one ReviewItem; at ``deadline`` the
    items nobody decided are revoked or flagged, per ``on_deadline``, and the review closes.
    """

    access_group = models.ForeignKey(
        AccessGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField()
    on_deadline = models.CharField(max_length=8, choices=ReviewOnDeadline.choices)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(access_group__isnull=False, account__isnull=True)
                | Q(access_group__isnull=True, account__isnull=False),
                name="accessreview_one_scope",
            ),
            models.CheckConstraint(
                condition=Q(deadline__gt=F("opened_at")), name="accessreview_deadline_after_open"
            ),
        ]

    def __str__(self) -> str:
        return f"Review #{self.pk} of {self.scope_label}"

    @property
    def scope_label(self) -> str:
        if self.access_group_id:
            return f"access group {self.access_group.name}"
        return f"account {self.account.name} ({self.account.account_id})"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class ReviewDecision(models.TextChoices):
    KEEP = "keep", "Keep"
    REVOKE = "revoke", "Revoke"


class ReviewOutcome(models.TextChoices):
    KEPT = "kept", "Kept"
    REVOKED = "revoked", "Revoked"
    FLAGGED = "flagged", "Flagged: not reviewed"
    ENDED = "ended", "Access had already ended"


class ReviewItem(models.Model):
    """One membership under review, its reviewer and what became of it.

    ``decision`` is the reviewer's (empty while undecided or when the deadline decided);
    ``outcome`` is what was done, set once: claiming an item is a conditional update of an
    empty outcome, so a reviewer's click and the deadline task never both act on it.
    """

    review = models.ForeignKey(AccessReview, on_delete=models.PROTECT, related_name="items")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="review_items")
    # A copy of the membership's user, so that the database itself refuses self-review.
    member = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="review_items")
    decision = models.CharField(max_length=8, choices=ReviewDecision.choices, null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    outcome = models.CharField(max_length=8, choices=ReviewOutcome.choices, blank=True)
    outcome_applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["review", "id"]
        constraints = [
            models.UniqueConstraint("review", "membership", name="reviewitem_one_per_membership"),
            models.CheckConstraint(condition=~Q(reviewer=F("member")), name="reviewitem_not_own"),
        ]

    def __str__(self) -> str:
        return f"{self.membership} reviewed by {self.reviewer}"

    @property
    def is_pending(self) -> bool:
        return not self.outcome


class MailDelivery(models.Model):
    """One mail that reached the mail server: a message about one thing, to one person.

    A mail task sends one mail per recipient and records each as it goes, so a task that is
    retried after the server failed half-way, or delivered twice by the broker, sends only
    the mails still missing. ``subject`` names the thing the message is about, such as
    ``request:42`` or ``membership:7``. The record is written just after the server accepted
    the mail: a worker that dies between the two may send that one mail again, never lose it.
    """

    message = models.CharField(max_length=64)
    subject = models.CharField(max_length=128)
    recipient = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "message", "subject", "recipient", name="maildelivery_once_per_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message} about {self.subject} to {self.recipient}"
