"""Reading access reviews: who sees which, the items of a page, the outcome as CSV rows.

Each read is a fixed number of queries whatever the number of items (select_related for
the rows, one prefetch for the accounts). The pages and the REST API read through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Q, QuerySet

from accessgroups.catalogue.selectors import BY_ACCOUNT_ID, current_accounts_prefetch
from accessgroups.models import (
    AccessReview,
    ReviewDecision,
    ReviewItem,
    ReviewOutcome,
    User,
)

EXPORT_HEADER = [
    "review",
    "member",
    "access_group",
    "accounts",
    "reviewer",
    "decision",
    "decided_at",
    "comment",
    "outcome",
    "applied",
]


def review_items_of(user: User) -> QuerySet[ReviewItem]:
    return ReviewItem.objects.filter(reviewer=user)


def may_see_reviews(user: User) -> bool:
    """Auditors and admins see every review; anyone else only reviews they have items in."""
    return user.can_audit or review_items_of(user).exists()


def may_see_review(user: User, review: AccessReview) -> bool:
    """Auditors and admins see every review; anyone else only one they have items in."""
    return user.can_audit or review.items.filter(reviewer=user).exists()


def reviews_visible_to(user: User) -> QuerySet[AccessReview]:
    reviews = AccessReview.objects.all()
    if not user.can_audit:
        reviews = reviews.filter(items__reviewer=user).distinct()
    return (
        reviews.select_related("access_group", "account", "opened_by")
        .annotate(
            item_count=Count("items", distinct=True),
            pending_count=Count("items", filter=Q(items__outcome=""), distinct=True),
        )
        .order_by("-opened_at", "-id")
    )


def reviews_with_counts(user: User) -> QuerySet[AccessReview]:
    """reviews_visible_to, with its items counted by decision (``<decision>_count``,
    ``undecided_count``) and by outcome (``<outcome>_count``, ``pending_count``).

    The counts cover the items the user may see: every item for auditors and admins, a
    reviewer's own otherwise (the visibility filter's join is the one counted).
    """
    counts = {
        f"{value}_count": Count("items", filter=Q(items__decision=value), distinct=True)
        for value in ReviewDecision.values
    }
    counts["undecided_count"] = Count(
        "items", filter=Q(items__decision__isnull=True), distinct=True
    )
    counts |= {
        f"{value}_count": Count("items", filter=Q(items__outcome=value), distinct=True)
        for value in ReviewOutcome.values
    }
    return reviews_visible_to(user).annotate(**counts)


def review_items(review: AccessReview, user: User | None) -> QuerySet[ReviewItem]:
    """The items a user may see in a review: all for auditors and admins (and for None, the
    export, whose caller checked), else their own."""
    items = review.items.all()
    if user is not None and not user.can_audit:
        items = items.filter(reviewer=user)
    return (
        items.select_related("membership__access_group", "membership__user", "reviewer")
        .prefetch_related(
            current_accounts_prefetch("membership__access_group__", order_by=BY_ACCOUNT_ID)
        )
        .order_by("membership__access_group__name", "membership__user__username", "id")
    )


def export_rows(review: AccessReview) -> Iterator[list[Any]]:
    """One row per item, in EXPORT_HEADER order; accounts are those the group grants now."""
    for item in review_items(review, None).iterator(chunk_size=500):
        membership = item.membership
        yield [
            review.pk,
            membership.user.username,
            membership.access_group.name,
            " ".join(link.account.account_id for link in membership.access_group.current_links),
            item.reviewer.username,
            item.decision or "",
            item.decided_at.isoformat() if item.decided_at else "",
            item.comment,
            item.outcome,
            "yes" if item.outcome_applied else "no",
        ]
