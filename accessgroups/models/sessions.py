"""Session revocations: a deny on one person's sessions of an access group, until they run out.

Removing someone from an Identity Center group stops new sessions, not the role sessions
they already hold, which last up to the permission set's session duration. While a
revocation is unlifted, the group's permission set carries a deny-all statement naming the
person's identity store user id (provisioning.inline_policies.wanted_inline_policy). Create
and lift them through accessgroups.access.sessions, which writes the audit log and asks for
the group's sync.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accessgroups.models.access import Membership
from accessgroups.models.catalogue import AccessGroup
from accessgroups.models.identity import User
from accessgroups.models.provisioned import ProvisioningStatus


class LiftReason(models.TextChoices):
    SESSIONS_ENDED = "sessions_ended", "Sessions ended"
    ACCESS_GRANTED_AGAIN = "access_granted_again", "Access granted again"


class SessionRevocationQuerySet(models.QuerySet):
    def unlifted(self) -> SessionRevocationQuerySet:
        return self.filter(lifted_at__isnull=True)

    def lift_after_passed(self, moment: datetime) -> SessionRevocationQuerySet:
        """Unlifted, with ``lift_after`` passed: due unless Identity Center has not yet
        confirmed the membership's removal (``SessionRevocation.is_due``)."""
        return self.unlifted().filter(lift_after__lte=moment)


class SessionRevocation(models.Model):
    access_group = models.ForeignKey(
        AccessGroup, on_delete=models.PROTECT, related_name="session_revocations"
    )
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="session_revocations")
    # Taken when access ended: the user may later be re-created in Identity Center under
    # another id, but the sessions to deny carry this one.
    identity_center_user_id = models.CharField(max_length=64)
    # The ending that called for it. Null is allowed so that a revocation need not come
    # from one membership's end; the portal makes none of that kind yet.
    membership = models.ForeignKey(
        Membership,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="session_revocations",
    )
    created_at = models.DateTimeField(default=timezone.now)
    # When access ended plus the group's session duration: no session that began before the
    # end outlives it. The membership's removal from Identity Center must also have been
    # confirmed that long ago (``is_due``).
    lift_after = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.CharField(max_length=24, choices=LiftReason.choices, blank=True)

    objects = SessionRevocationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # What a group's permission set should deny: read by every group sync.
            models.Index(
                fields=["access_group"],
                condition=Q(lifted_at__isnull=True),
                name="sessionrev_unlifted_group",
            ),
            # What the sweep lifts.
            models.Index(
                fields=["lift_after"],
                condition=Q(lifted_at__isnull=True),
                name="sessionrev_unlifted_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(identity_center_user_id=""), name="sessionrev_user_id_present"
            ),
            models.CheckConstraint(
                condition=Q(lift_after__gte=F("created_at")), name="sessionrev_lift_after_created"
            ),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True) | Q(lifted_at__gte=F("created_at")),
                name="sessionrev_lifted_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"sessions of {self.user} in {self.access_group}"

    @property
    def is_lifted(self) -> bool:
        return self.lifted_at is not None

    def is_due(self, now: datetime) -> bool:
        """Whether every session this revocation denies has run out by ``now``.

        A session can begin until Identity Center has removed the person from the group,
        which may come well after the end (retries, an outage, a failed removal an admin
        has yet to retry). So the revocation stays until the removal was confirmed a whole
        session duration ago, as well as ``lift_after``.
        """
        if self.lifted_at is not None or self.lift_after > now:
            return False
        membership = self.membership
        if membership is None:
            return True
        if (
            membership.provisioning_status != ProvisioningStatus.IN_SYNC
            or membership.provisioned_at is None
        ):
            return False
        return membership.provisioned_at + (self.lift_after - self.created_at) <= now
