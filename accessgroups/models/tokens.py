"""Personal API tokens: named, expiring, revocable keys for ``Authorization: Token KEY``.

The key itself is never stored: only ``prefix`` (its first characters, not secret, to find
the row and to tell tokens apart on a page) and a SHA-256 hash of the whole key. Create and
revoke through accessgroups.auth.tokens, which checks who may and writes the audit log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accessgroups.models.identity import User

# Last use is written at most this often per token: a busy script calling the API every
# second would otherwise turn each read into a write on the same row (lock contention
# on PostgreSQL, a serialised writer on SQLite) for a date people read to the minute.
LAST_USE_RESOLUTION = timedelta(minutes=1)


class ApiTokenState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class ApiTokenQuerySet(models.QuerySet):
    def active(self, at: datetime | None = None) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=at or timezone.now())


class ApiToken(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64)
    # The key's first characters: not secret (pages and the audit log show them).
    prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Who made it: the user, an admin (service accounts), or nobody (manage.py at the shell).
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "personal API token"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="apitoken_expires_after_creation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    def state(self, at: datetime | None = None) -> ApiTokenState:
        if self.revoked_at is not None:
            return ApiTokenState.REVOKED
        if self.expires_at <= (at or timezone.now()):
            return ApiTokenState.EXPIRED
        return ApiTokenState.ACTIVE

    def record_use(self, at: datetime) -> None:
        """Note that the token was used, at most once per LAST_USE_RESOLUTION.

        The row read to authenticate says when it was last noted, so most calls write
        nothing; the conditional update keeps two calls racing past that check to one write.
        """
        if self.last_used_at is not None and at - self.last_used_at < LAST_USE_RESOLUTION:
            return
        ApiToken.objects.filter(pk=self.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=at - LAST_USE_RESOLUTION)
        ).update(last_used_at=at)
        self.last_used_at = at
