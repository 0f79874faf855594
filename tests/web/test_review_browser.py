"""In the browser: bob opens the review page from the navigation and keeps alice's access."""

from __future__ import annotations

import pytest

from accessgroups.models import ReviewItem
from accessgroups.reviews.services import access_review_open

pytestmark = pytest.mark.django_db(transaction=True)


def test_bob_keeps_one_item(page, login, alice, bob, carol, readonly, grant, in_a_week):
    grant(alice, readonly)
    review = access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)
    login(page, bob)
    page.goto("/")
    page.get_by_role("link", name="Reviews").click()
    page.get_by_role("link", name=f"#{review.pk} access group ReadOnly").click()
    row = page.locator("tr.review-item", has_text="alice in ReadOnly")
    row.get_by_label("Comment").fill("still needed for on-call")
    row.get_by_role("button", name="Keep").click()
    page.get_by_text("You kept alice's access to ReadOnly.").wait_for()
    assert row.get_by_text("Kept").is_visible()
    item = ReviewItem.objects.get(review=review)
    assert (item.decision, item.comment, item.reviewer_id) == (
        "keep",
        "still needed for on-call",
        bob.pk,
    )
