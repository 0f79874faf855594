"""Drift: what Identity Center holds for the portal's access groups but the portal did not
write, or lacks although the portal wrote it. A scan (provisioning.drift) finds it; each
finding stays open until the portal undid it or a later scan no longer sees it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accessgroups.models.catalogue import AccessGroup
from accessgroups.models.identity import User


class DriftKind(models.TextChoices):
    UNEXPECTED_MEMBER = "unexpected_member", "Member the portal did not grant"
    MISSING_MEMBER = "missing_member", "Granted member missing"
    UNEXPECTED_ASSIGNMENT = "unexpected_assignment", "Assignment the portal did not make"
    MISSING_ASSIGNMENT = "missing_assignment", "Assignment missing"
    PERMISSION_SET_CHANGED = "permission_set_changed", "Permission set changed"


class DriftResolution(models.TextChoices):
    # The portal removed the outside change, or handed the row back to provisioning, which
    # writes what the database says (a later scan finds it again if that did not happen).
    REVERTED = "reverted", "Reverted by the portal"
    # A later scan no longer saw it: changed back outside the portal, or its group archived.
    GONE = "gone", "No longer seen"


class PrincipalType(models.TextChoices):
    USER = "USER", "User"
    GROUP = "GROUP", "Group"


class DriftFindingQuerySet(models.QuerySet):
    def open(self) -> DriftFindingQuerySet:
        return self.filter(resolved_at__isnull=True)

    def resolved(self) -> DriftFindingQuerySet:
        return self.filter(resolved_at__isnull=False)


class DriftFinding(models.Model):
    """One difference between Identity Center and the database, about one access group.

    ``principal`` is how people name who it concerns: a portal username, an access group's
    name, or, for an identity Identity Center has and the portal does not, its type and id.
    The open finding of one (kind, group, principal, account, permission set) is unique, so
    a scan that sees the same drift again does not report it twice.
    """

    kind = models.CharField(max_length=32, choices=DriftKind.choices)
    access_group = models.ForeignKey(
        AccessGroup, on_delete=models.PROTECT, related_name="drift_findings"
    )
    principal_type = models.CharField(max_length=8, choices=PrincipalType.choices, blank=True)
    principal = models.CharField(max_length=256, blank=True)
    # The portal user it concerns, when it concerns one (for the audit log's subject).
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    account_id = models.CharField(max_length=12, blank=True)
    # Which permission set an assignment finding is about; "" for the others.
    permission_set_arn = models.CharField(max_length=256, blank=True)
    detail = models.TextField()
    detected_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=16, choices=DriftResolution.choices, blank=True)

    objects = DriftFindingQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "kind",
                "access_group",
                "principal_type",
                "principal",
                "account_id",
                "permission_set_arn",
                condition=Q(resolved_at__isnull=True),
                name="driftfinding_one_open",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolution="")
                | (Q(resolved_at__isnull=False) & ~Q(resolution="")),
                name="driftfinding_resolved_with_resolution",
            ),
        ]
        indexes = [
            models.Index(fields=["resolved_at", "-detected_at"], name="driftfinding_open_recent")
        ]

    def __str__(self) -> str:
        where = f"{self.access_group} {self.principal} {self.account_id}".strip()
        return f"{self.get_kind_display()}: {where}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class DriftScan(models.Model):
    """One run of the drift scan: the claim that keeps it alone in the fleet, and its result.

    At most one row is ``running`` (a unique constraint), so two workers, or a worker and
    ``manage.py drift_scan``, never scan (and revert) at once. A running scan notes
    ``heartbeat_at`` as it goes; one silent for long belonged to a worker that died.
    """

    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    running = models.BooleanField(default=True)
    policy = models.CharField(max_length=8)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    groups_scanned = models.PositiveIntegerField(default=0)
    # Per kind: new, still open, resolved; and the groups that could not be read.
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "running", condition=Q(running=True), name="driftscan_one_running"
            ),
        ]

    def __str__(self) -> str:
        return f"drift scan {self.pk} at {self.started_at:%Y-%m-%d %H:%M}"
