"""AWS Organizations as last read: organizational units and the record of each sync.

The tree is a copy, refreshed by a sync (provisioning.organizations reads it,
accessgroups.organizations.services stores it); pages, the API and an access group's
accounts by OU read this copy, never AWS.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OrganizationalUnit(models.Model):
    """An organizational unit, or the organization's root (``r-...``, no parent)."""

    ou_id = models.CharField(max_length=68, unique=True)
    name = models.CharField(max_length=128)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Names from the root down, joined by "/": "Root/Workloads/Prod".
    path = models.TextField()
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Set when the OU was missing from a complete sync; it stays for history.
    gone_at = models.DateTimeField(null=True, blank=True)
    # Why the last sync could not list what is under this OU ("" when it could).
    read_error = models.TextField(blank=True)

    class Meta:
        ordering = ["path", "ou_id"]

    def __str__(self) -> str:
        return f"{self.path} ({self.ou_id})"

    @property
    def is_root(self) -> bool:
        return self.ou_id.startswith("r-")


class OrganizationsSync(models.Model):
    """One read of AWS Organizations: when, what it found, or why it failed.

    A failed sync changes nothing else: the tree and the accounts stay as the last good
    one left them, and the newest of these rows tells admins why.
    """

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    calls = models.PositiveIntegerField(default=0)
    accounts = models.PositiveIntegerField(default=0)
    organizational_units = models.PositiveIntegerField(default=0)
    links_added = models.PositiveIntegerField(default=0)
    links_removed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Organizations sync {self.started_at:%Y-%m-%d %H:%M} ({'failed' if self.error else 'ok'})"

    @property
    def succeeded(self) -> bool:
        return self.finished_at is not None and not self.error
