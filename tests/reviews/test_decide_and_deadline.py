"""Reviewers keep or revoke their items (nobody else can); at the deadline what nobody
decided is revoked or flagged, once however often the task runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accessgroups.core.errors import InvalidTransition
from accessgroups.models import AccessReview, AuditEvent, EndReason, ReviewOutcome
from accessgroups.reviews.services import (
    access_review_open,
    access_reviews_close_due,
    review_item_decide,
)
from accessgroups.reviews.tasks import access_reviews_close_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(alice, erin, bob, carol, readonly, grant, in_a_week):
    grant(alice, readonly)
    grant(erin, readonly)
    return access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)


def _item(review, username):
    return review.items.select_related("membership").get(membership__user__username=username)


def test_keep_records_the_decision_and_leaves_access(review, bob):
    item = review_item_decide(
        item=_item(review, "alice"), reviewer=bob, decision="keep", comment="still on call"
    )
    assert (item.decision, item.outcome, item.outcome_applied, item.comment) == (
        "keep",
        "kept",
        True,
        "still on call",
    )
    assert item.decided_at is not None
    item.membership.refresh_from_db()
    assert item.membership.ended_at is None
    assert AuditEvent.objects.get(action="review.item_keep").actor == bob


def test_revoke_ends_the_membership_through_the_workflow(
    review, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        item = review_item_decide(
            item=_item(review, "alice"), reviewer=bob, decision="revoke", comment="left the team"
        )
    membership = item.membership
    membership.refresh_from_db()
    assert (item.outcome, membership.end_reason, membership.ended_by) == (
        "revoked",
        EndReason.REVOKED,
        bob,
    )
    assert membership.provisioning_status == "pending"  # the sync task takes it from here
    assert sent, "the revocation enqueues its provisioning on commit"
    revoked = AuditEvent.objects.get(action="membership.revoked")
    assert "access review" in revoked.message and "left the team" in revoked.message
    assert AuditEvent.objects.filter(action="review.item_revoke").count() == 1


@pytest.mark.parametrize("who", ["alice", "erin", "carol", "dave"])
def test_only_the_items_reviewer_decides(review, who, request):
    user = request.getfixturevalue(who)  # the member, another approver, an auditor, an admin
    item = _item(review, "alice")
    before = AuditEvent.objects.count()
    for decision in ("keep", "revoke"):
        with pytest.raises(PermissionDenied):
            review_item_decide(item=item, reviewer=user, decision=decision)
    item.refresh_from_db()
    item.membership.refresh_from_db()
    assert (item.decision, item.outcome, item.membership.ended_at) == (None, "", None)
    assert AuditEvent.objects.count() == before


def test_a_decided_item_is_not_decided_again(review, bob):
    item = _item(review, "alice")
    review_item_decide(item=item, reviewer=bob, decision="keep")
    with pytest.raises(InvalidTransition):
        review_item_decide(item=item, reviewer=bob, decision="revoke")
    item.membership.refresh_from_db()
    assert item.membership.ended_at is None


def test_reviewer_who_lost_the_approver_role_cannot_revoke(review, bob, readonly):
    readonly.approvers.clear()
    item = _item(review, "alice")
    with pytest.raises(PermissionDenied):
        review_item_decide(item=item, reviewer=bob, decision="revoke")
    item.refresh_from_db()
    assert item.outcome == "" and item.decision is None  # the claim rolled back


def test_deadline_revokes_what_nobody_decided(review, bob):
    review_item_decide(item=_item(review, "alice"), reviewer=bob, decision="keep")
    after = review.deadline + timedelta(seconds=1)
    assert access_reviews_close_due(now=after) == 1
    review.refresh_from_db()
    assert review.closed_at == after
    alice_item, erin_item = _item(review, "alice"), _item(review, "erin")
    alice_item.membership.refresh_from_db()
    erin_item.membership.refresh_from_db()
    assert alice_item.membership.ended_at is None and alice_item.outcome == ReviewOutcome.KEPT
    assert (erin_item.decision, erin_item.outcome, erin_item.outcome_applied) == (
        None,
        "revoked",
        True,
    )
    assert (
        erin_item.membership.end_reason == EndReason.REVOKED
        and erin_item.membership.ended_by is None
    )
    closed = AuditEvent.objects.get(action="review.closed")
    assert closed.data["unreviewed"] == {"revoked": 1}
    # Deciding after the close is refused.
    with pytest.raises(InvalidTransition):
        review_item_decide(item=erin_item, reviewer=bob, decision="keep")


def test_deadline_flags_in_flag_mode(alice, erin, bob, carol, readonly, grant, in_a_week, settings):
    settings.ACCESS_REVIEW_UNREVIEWED = "flag"
    grant(alice, readonly)
    review = access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)
    assert review.on_deadline == "flag"
    access_reviews_close_due(now=in_a_week + timedelta(seconds=1))
    item = _item(review, "alice")
    item.membership.refresh_from_db()
    assert (item.outcome, item.outcome_applied, item.membership.ended_at) == ("flagged", True, None)


def test_not_due_reviews_stay_open_and_the_task_is_idempotent(review, monkeypatch):
    assert access_reviews_close_due(now=timezone.now()) == 0
    assert AccessReview.objects.get().closed_at is None
    monkeypatch.setattr(timezone, "now", lambda: review.deadline + timedelta(minutes=5))
    assert access_reviews_close_task() == 1
    assert access_reviews_close_task() == 0  # a second run, a duplicated message: nothing more
    assert AuditEvent.objects.filter(action="review.closed").count() == 1
    assert AuditEvent.objects.filter(action="membership.revoked").count() == 2


def test_membership_ended_meanwhile_is_recorded_not_revoked_twice(review, bob):
    item = _item(review, "erin")
    item.membership.ended_at = timezone.now()
    item.membership.end_reason = EndReason.EXPIRED
    item.membership.save()
    access_reviews_close_due(now=review.deadline + timedelta(seconds=1))
    item.refresh_from_db()
    item.membership.refresh_from_db()
    assert item.outcome == ReviewOutcome.ENDED and item.membership.end_reason == EndReason.EXPIRED
