"""The catalogue: AWS accounts, access groups, and their dated account and policy rows."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accessgroups.core.validators import parse_session_duration
from accessgroups.models.identity import User
from accessgroups.models.provisioned import Provisioned, ProvisioningStatus


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
    # Where AWS Organizations last saw it (none for accounts entered by hand).
    parent_ou = models.ForeignKey(
        "OrganizationalUnit", null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    ou_path = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "account_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"

    @property
    def label(self) -> str:
        """How pages name it: ``prod (111122223333) · Root/Workloads``."""
        return self.label_of(self.account_id, self.name, self.ou_path)

    @staticmethod
    def label_of(account_id: str, name: str, ou_path: str) -> str:
        """``label`` from the values alone, for lists read without model instances."""
        named = f"{name} ({account_id})"
        return f"{named} · {ou_path}" if ou_path else named


class Risk(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


# Distinct approvers a request may need at most (docs/decisions/0016-approval-policies.md).
APPROVALS_REQUIRED_MAX = 5


class AccessGroupQuerySet(models.QuerySet):
    def live(self) -> AccessGroupQuerySet:
        return self.filter(archived_at__isnull=True)

    def requestable(self) -> AccessGroupQuerySet:
        return self.live().filter(requestable=True)

    def requestable_by(self, user: User) -> AccessGroupQuerySet:
        """Requestable groups ``user`` is eligible for (directory.may_request)."""
        from accessgroups.models.directory import may_request

        return self.requestable().filter(may_request(user))


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
    # Grants every ACTIVE account under these OUs, recursively (accessgroups.organizations).
    organizational_units = models.ManyToManyField(
        "OrganizationalUnit", related_name="access_groups", blank=True
    )
    # Identity Center groups (accessgroups.models.directory): their members approve, and,
    # when any is named, only their members may request.
    approver_groups = models.ManyToManyField(
        "accessgroups.IdentityCenterGroup", related_name="approver_for", blank=True
    )
    eligible_groups = models.ManyToManyField(
        "accessgroups.IdentityCenterGroup", related_name="eligible_for", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    identity_center_group_id = models.CharField(max_length=64, blank=True)
    permission_set_arn = models.CharField(max_length=256, blank=True)
    # Grows with every change to what the group grants or who approves it (accounts,
    # policies, session duration, approvers): an approval names the version its approver saw.
    version = models.PositiveIntegerField(default=1)

    # Approval policies (accessgroups.access.policies): distinct approvals a request needs,
    # approval by the portal itself, access at once in an emergency, and how risky the
    # access is (a high-risk approval needs a comment).
    approvals_required = models.PositiveSmallIntegerField(default=1)
    auto_approve = models.BooleanField(default=False)
    break_glass = models.BooleanField(default=False)
    risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.NORMAL)

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
            models.CheckConstraint(
                condition=Q(
                    approvals_required__gte=1, approvals_required__lte=APPROVALS_REQUIRED_MAX
                ),
                name="accessgroup_approvals_required_range",
            ),
            models.CheckConstraint(
                condition=Q(auto_approve=False) | Q(approvals_required=1),
                name="accessgroup_auto_approve_single",
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
    # Why the group grants the account: listed in its accounts, under one of its OUs, or both.
    explicit = models.BooleanField(default=True)
    from_ou = models.BooleanField(default=False)

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
            models.CheckConstraint(
                condition=Q(explicit=True) | Q(from_ou=True), name="accessgroupaccount_has_reason"
            ),
        ]

    @property
    def reason(self) -> str:
        """``explicit``, ``ou`` or ``both``."""
        if self.explicit and self.from_ou:
            return "both"
        return "explicit" if self.explicit else "ou"

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
