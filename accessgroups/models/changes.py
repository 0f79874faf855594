"""Change requests: a change to an access group that a second admin must approve (four eyes).

With CHANGE_APPROVAL=required, creating, changing or archiving an access group makes one of
these instead of applying it (docs/decisions/0018-change-requests.md). The row keeps what was
proposed, the group's configuration it was proposed against (to see whether the group changed
since), what it changes and what provisioning would do, and who decided.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accessgroups.models.catalogue import AccessGroup
from accessgroups.models.identity import User


class ChangeAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Change"
    ARCHIVE = "archive", "Archive"


class ChangeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved and applied"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    # The group changed after the proposal, or another proposal for it was applied first.
    SUPERSEDED = "superseded", "Superseded"


class ChangeRequestQuerySet(models.QuerySet):
    def pending(self) -> ChangeRequestQuerySet:
        return self.filter(status=ChangeStatus.PENDING)

    def pending_first(self) -> ChangeRequestQuerySet:
        return self.annotate(
            pending_rank=models.Case(
                models.When(status=ChangeStatus.PENDING, then=0),
                default=1,
                output_field=models.IntegerField(),
            )
        ).order_by("pending_rank", "-created_at", "-id")


class ChangeRequest(models.Model):
    """One proposed create, update or archive of an access group.

    ``fields`` is the proposal as the REST API takes it (AccessGroupIn); ``base_config`` the
    group's configuration when proposed (accessgroups.changes.config.group_config), None for
    a new group; ``changes`` is ``{field: {from, to}}``; ``plan`` and ``impact`` are what
    accessgroups.changes.plan said provisioning would do. A create is linked to its group
    once approved.
    """

    access_group = models.ForeignKey(
        AccessGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_requests",
    )
    action = models.CharField(max_length=16, choices=ChangeAction.choices)
    fields = models.JSONField(default=dict, blank=True)
    base_config = models.JSONField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    plan = models.JSONField(default=list, blank=True)
    impact = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ChangeStatus.choices, default=ChangeStatus.PENDING
    )
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)

    objects = ChangeRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="changerequest_status_created"),
        ]
        constraints = [
            # Only a create may be without its group (until it is approved).
            models.CheckConstraint(
                condition=Q(action=ChangeAction.CREATE) | Q(access_group__isnull=False),
                name="changerequest_group_unless_create",
            ),
            models.CheckConstraint(
                condition=Q(status=ChangeStatus.PENDING) | Q(decided_at__isnull=False),
                name="changerequest_decided_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}: {self.get_action_display().lower()} {self.group_name}"

    @property
    def group_name(self) -> str:
        if self.access_group_id is not None:
            return self.access_group.name
        return str((self.fields or {}).get("name", ""))

    @property
    def is_pending(self) -> bool:
        return self.status == ChangeStatus.PENDING
