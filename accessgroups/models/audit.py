"""The append-only audit log."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from accessgroups.models.catalogue import AccessGroup
from accessgroups.models.identity import User


class AuditEvent(models.Model):
    """Append-only record of a change to access or its configuration.

    ``sequence`` is gap-free and ``hash`` chains each event to the one before it; ``seal``
    is an HMAC of ``hash`` under a key derived from SECRET_KEY, so a chain recomputed without
    that key shows (empty on events written before sealing began). Database triggers refuse
    UPDATE and DELETE (see the migration). Write through accessgroups.core.audit.
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

