"""What every row with an Identity Center side carries: a provisioning status and generation."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
    # While a worker holds the row, the lease it renews (provisioning.identity_center): a
    # claim not renewed for the lease's length belongs to a worker that died.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When a pending row is next due: when it was marked pending, or when a retry after an
    # error is planned. The row's pending state is the outbox: a row still pending well after
    # it was due lost its task (broker down, process killed) and is sent again
    # (accessgroups.core.dispatch).
    due_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    provisioned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
