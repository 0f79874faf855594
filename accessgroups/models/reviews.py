"""Access reviews: a dated campaign over memberships, one item per membership."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accessgroups.models.access import Membership
from accessgroups.models.catalogue import AccessGroup, Account
from accessgroups.models.identity import User


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
