"""Access reviews: open one, let reviewers keep or revoke, close it at the deadline.

A revocation, whether a reviewer's or the deadline's, ends the membership through the
access workflow in accessgroups.access.services, so Identity Center is changed by the same
provisioning task as any other revocation. Every step writes an audit event.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accessgroups.access import services
from accessgroups.core import roles
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import (
    AccessGroup,
    AccessReview,
    Account,
    EndReason,
    Membership,
    ReviewDecision,
    ReviewItem,
    ReviewOnDeadline,
    ReviewOutcome,
    User,
)


def default_on_deadline() -> str:
    return getattr(settings, "ACCESS_REVIEW_UNREVIEWED", ReviewOnDeadline.REVOKE)


def memberships_in_scope(*, access_group: AccessGroup | None, account: Account | None):
    """Active memberships of the group, or of every live group that grants the account now."""
    memberships = Membership.objects.active().filter(access_group__archived_at__isnull=True)
    if access_group is not None:
        memberships = memberships.filter(access_group=access_group)
    else:
        memberships = memberships.filter(
            access_group__account_links__account=account,
            access_group__account_links__valid_to__isnull=True,
        ).distinct()
    return memberships.select_related("user", "access_group").order_by(
        "access_group__name", "user__username", "id"
    )


def _pick_reviewers(memberships: list[Membership]) -> dict[int, User]:
    """membership id -> reviewer: an approver of its group who is not the member, else an admin.

    Among the candidates the one with the fewest items so far is chosen, so that a group
    with several approvers shares the work instead of handing it all to the first name.
    """
    group_ids = {m.access_group_id for m in memberships}
    approvers = roles.approvers_by_group(group_ids)
    admins = list(roles.admins().order_by("username"))
    load: Counter[int] = Counter()
    chosen: dict[int, User] = {}
    for membership in memberships:
        candidates = [
            u for u in approvers[membership.access_group_id] if u.pk != membership.user_id
        ]
        if not candidates:
            candidates = [u for u in admins if u.pk != membership.user_id]
        if not candidates:
            raise ValidationError(
                f"Nobody can review {membership.user.username}'s access to {membership.access_group.name}: "
                "the group has no other approver and there is no other admin."
            )
        reviewer = min(candidates, key=lambda u: (load[u.pk], u.username))
        load[reviewer.pk] += 1
        chosen[membership.pk] = reviewer
    return chosen


def access_review_open(
    *,
    opened_by: User,
    deadline: datetime,
    access_group: AccessGroup | None = None,
    account: Account | None = None,
    on_deadline: str | None = None,
) -> AccessReview:
    """Open a review of one access group or one account: an item per active membership."""
    if not opened_by.can_audit:
        raise PermissionDenied("Only auditors and admins can open an access review.")
    if (access_group is None) == (account is None):
        raise ValidationError({"access_group": "Choose an access group or an account, not both."})
    if access_group is not None and access_group.is_archived:
        raise ValidationError({"access_group": "This access group is archived."})
    now = timezone.now()
    if deadline <= now:
        raise ValidationError({"deadline": "The deadline must be in the future."})
    on_deadline = on_deadline or default_on_deadline()
    if on_deadline not in ReviewOnDeadline.values:
        raise ValidationError({"on_deadline": "Choose revoke or flag."})
    with transaction.atomic():
        memberships = list(memberships_in_scope(access_group=access_group, account=account))
        if not memberships:
            raise ValidationError("Nobody has access in this scope: there is nothing to review.")
        reviewers = _pick_reviewers(memberships)
        review = AccessReview.objects.create(
            access_group=access_group,
            account=account,
            opened_by=opened_by,
            opened_at=now,
            deadline=deadline,
            on_deadline=on_deadline,
        )
        ReviewItem.objects.bulk_create(
            ReviewItem(review=review, membership=m, member_id=m.user_id, reviewer=reviewers[m.pk])
            for m in memberships
        )
        audit_record(
            action="review.opened",
            actor=opened_by,
            obj=review,
            access_group=access_group,
            message=f"Review of {review.scope_label}",
            data={
                "deadline": deadline,
                "on_deadline": on_deadline,
                "account_id": account.account_id if account else None,
                "items": [
                    {
                        "membership": m.pk,
                        "member": m.user.username,
                        "reviewer": reviewers[m.pk].username,
                    }
                    for m in memberships
                ],
            },
        )
    return review


def review_item_decide(
    *, item: ReviewItem, reviewer: User, decision: str, comment: str = ""
) -> ReviewItem:
    """The reviewer keeps or revokes one membership; a revoke ends it like any revocation."""
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": "Choose keep or revoke."})
    item = ReviewItem.objects.select_related(
        "review", "membership__access_group", "membership__user"
    ).get(pk=item.pk)
    if not reviewer.is_active or item.reviewer_id != reviewer.pk:
        raise PermissionDenied("Only this item's reviewer can decide it.")
    now = timezone.now()
    comment = (comment or "").strip()
    with transaction.atomic():
        # The claim: the reviewer's click and the deadline task race for an empty outcome.
        claimed = ReviewItem.objects.filter(
            pk=item.pk, outcome="", review__closed_at__isnull=True, review__deadline__gt=now
        ).update(decision=decision, decided_at=now, comment=comment)
        if not claimed:
            raise InvalidTransition(
                "This review item was already decided, or the review has closed."
            )
        membership = item.membership
        if decision == ReviewDecision.KEEP:
            outcome = ReviewOutcome.KEPT if membership.ended_at is None else ReviewOutcome.ENDED
        else:
            outcome = _revoke(membership, by=reviewer, review=item.review, comment=comment)
        ReviewItem.objects.filter(pk=item.pk).update(outcome=outcome, outcome_applied=True)
        audit_record(
            action=f"review.item_{decision}",
            actor=reviewer,
            obj=item,
            access_group=membership.access_group,
            subject=membership.user,
            message=comment,
            data={"review": item.review_id, "membership": membership.pk, "outcome": outcome},
        )
    item.refresh_from_db()
    return item


def _revoke(membership: Membership, *, by: User | None, review: AccessReview, comment: str) -> str:
    note = f"access review #{review.pk}" + (f": {comment}" if comment else "")
    try:
        if by is None:
            # The deadline has no person behind it, and the workflow's permission check is
            # about people; the end itself is the same end-date, audit event and sync task.
            services.membership_end(membership, reason=EndReason.REVOKED, by=None, comment=note)
        else:
            services.membership_revoke(membership=membership, revoked_by=by, comment=note)
    except InvalidTransition:
        # Ended meanwhile (expired, revoked elsewhere): nothing left to revoke.
        return ReviewOutcome.ENDED
    return ReviewOutcome.REVOKED


def access_review_close(*, review_id: int, now: datetime) -> bool:
    """Close one review whose deadline has passed; False when it was not due or already closed.

    Claimed with a conditional update, so a duplicated or retried task closes it once.
    """
    with transaction.atomic():
        claimed = AccessReview.objects.filter(
            pk=review_id, closed_at__isnull=True, deadline__lte=now
        ).update(closed_at=now)
        if not claimed:
            return False
        review = AccessReview.objects.select_related("access_group", "account").get(pk=review_id)
        pending = review.items.filter(outcome="").select_related(
            "membership__access_group", "membership__user"
        )
        counts: Counter[str] = Counter()
        for item in pending:
            if not ReviewItem.objects.filter(pk=item.pk, outcome="").update(
                outcome=ReviewOutcome.FLAGGED
            ):
                continue
            if review.on_deadline == ReviewOnDeadline.REVOKE:
                outcome = _revoke(
                    item.membership, by=None, review=review, comment="not reviewed by the deadline"
                )
            else:
                outcome = ReviewOutcome.FLAGGED
            ReviewItem.objects.filter(pk=item.pk).update(outcome=outcome, outcome_applied=True)
            counts[outcome] += 1
        audit_record(
            action="review.closed",
            obj=review,
            access_group=review.access_group,
            message=f"Review of {review.scope_label} closed at its deadline",
            data={"on_deadline": review.on_deadline, "unreviewed": dict(counts)},
        )
    return True


def access_reviews_close_due(*, now: datetime) -> int:
    """Close every review whose deadline has passed; returns how many this call closed."""
    due = AccessReview.objects.filter(closed_at__isnull=True, deadline__lte=now).values_list(
        "pk", flat=True
    )
    return sum(access_review_close(review_id=pk, now=now) for pk in list(due))
