"""Opening a review: one item per active membership in scope, a reviewer who is never the
member (an approver of the group, else an admin), only auditors and admins, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accessgroups.models import AccessReview, AuditEvent, ReviewItem
from accessgroups.reviews.services import access_review_open

pytestmark = pytest.mark.django_db


def test_reviewers_are_approvers_and_never_the_member(
    alice, bob, erin, carol, dave, readonly, grant, in_a_week
):
    readonly.approvers.set([bob, erin])
    kept = {u.username: grant(u, readonly) for u in (alice, bob, erin)}
    ended = grant(dave, readonly, ended_at=timezone.now())

    review = access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)

    items = {
        i.membership.user.username: i
        for i in review.items.select_related("membership__user", "reviewer")
    }
    assert set(items) == {"alice", "bob", "erin"}  # dave's membership has ended
    assert ended.review_items.count() == 0
    assert items["bob"].reviewer == erin and items["erin"].reviewer == bob
    assert items["alice"].reviewer in (bob, erin)
    assert all(i.reviewer_id != i.member_id for i in items.values())
    assert {i.membership_id for i in items.values()} == {m.pk for m in kept.values()}
    event = AuditEvent.objects.get(action="review.opened")
    assert event.actor == carol and len(event.data["items"]) == 3


def test_an_admin_reviews_when_the_only_approver_is_the_member(
    bob, dave, carol, readonly, grant, in_a_week
):
    grant(bob, readonly)  # bob is ReadOnly's only approver
    review = access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)
    assert review.items.get().reviewer == dave


def test_nobody_to_review_refuses_and_saves_nothing(bob, carol, readonly, grant, in_a_week):
    grant(bob, readonly)  # no other approver, no admin
    with pytest.raises(ValidationError, match="Nobody can review bob"):
        access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)
    assert (
        not AccessReview.objects.exists()
        and not AuditEvent.objects.filter(action="review.opened").exists()
    )


def test_account_scope_covers_every_group_granting_the_account(
    alice, bob, erin, carol, readonly, make_group, make_account, sandbox, grant, in_a_week
):
    other = make_group("Billing", accounts=[sandbox], approvers=[erin])
    elsewhere = make_group("Elsewhere", accounts=[make_account("prod")], approvers=[erin])
    grant(alice, readonly)
    grant(alice, other)
    grant(bob, elsewhere)
    review = access_review_open(opened_by=carol, account=sandbox, deadline=in_a_week)
    assert sorted(
        review.items.values_list("membership__access_group__name", "reviewer__username")
    ) == [
        ("Billing", "erin"),
        ("ReadOnly", "bob"),
    ]


def test_only_auditors_and_admins_open_reviews(alice, bob, readonly, grant, in_a_week):
    grant(alice, readonly)
    for user in (alice, bob):  # a requester, the group's approver
        with pytest.raises(PermissionDenied):
            access_review_open(opened_by=user, access_group=readonly, deadline=in_a_week)
    assert not AccessReview.objects.exists()


def test_bad_scope_or_deadline_is_refused_by_field(
    alice, carol, readonly, sandbox, grant, in_a_week
):
    grant(alice, readonly)
    with pytest.raises(ValidationError) as both:
        access_review_open(
            opened_by=carol, access_group=readonly, account=sandbox, deadline=in_a_week
        )
    assert "access_group" in both.value.error_dict
    with pytest.raises(ValidationError) as past:
        access_review_open(
            opened_by=carol, access_group=readonly, deadline=timezone.now() - timedelta(minutes=1)
        )
    assert "deadline" in past.value.error_dict
    assert not AccessReview.objects.exists()


def test_the_database_refuses_self_review(alice, carol, readonly, grant, in_a_week):
    membership = grant(alice, readonly)
    review = AccessReview.objects.create(
        access_group=readonly, opened_by=carol, deadline=in_a_week, on_deadline="flag"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewItem.objects.create(
            review=review, membership=membership, member=alice, reviewer=alice
        )
