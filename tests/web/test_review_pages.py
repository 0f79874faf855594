"""Review pages through Django's test client: who sees what, opening a review by form,
Keep and Revoke by the item's reviewer only, the CSV export, and query counts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accessgroups.models import AccessReview, AuditEvent, ReviewItem, User
from accessgroups.reviews.services import access_review_open, review_item_decide

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(alice, erin, carol, readonly, grant, in_a_week):
    grant(alice, readonly)
    grant(erin, readonly)
    return access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)


def _item(review, username) -> ReviewItem:
    return review.items.get(membership__user__username=username)


def test_list_and_navigation_per_role(client_for, review, alice, bob, carol, dave):
    assert client_for(alice).get(reverse("web:reviews")).status_code == 403
    assert (
        'href="/reviews/"' not in client_for(alice).get(reverse("web:catalogue")).content.decode()
    )
    for user in (bob, carol, dave):  # the reviewer, an auditor, an admin
        response = client_for(user).get(reverse("web:reviews"))
        assert response.status_code == 200
        assert f"#{review.pk} access group ReadOnly" in response.content.decode()
        assert ">Reviews</a>" in response.content.decode()
    assert "Open a review" not in client_for(bob).get(reverse("web:reviews")).content.decode()


def test_reviewer_sees_only_their_items_and_buttons(
    client_for, review, bob, carol, erin, dave, readonly
):
    page = client_for(bob).get(reverse("web:review-detail", args=[review.pk])).content.decode()
    # bob reviews both (erin's item goes to bob; alice's too, as bob is the only other approver)
    assert page.count("Keep</button>") == 2 and page.count("Revoke</button>") == 2
    assert f'for="id_i{_item(review, "alice").pk}-comment">Comment' in page
    auditor_page = (
        client_for(carol).get(reverse("web:review-detail", args=[review.pk])).content.decode()
    )
    assert "alice in ReadOnly" in auditor_page and "Keep</button>" not in auditor_page
    assert "Export CSV" in auditor_page and "Export CSV" not in page
    # Someone with no item in this review
    assert client_for(erin).get(reverse("web:review-detail", args=[review.pk])).status_code == 403


def test_keep_and_revoke_by_post(client_for, review, bob):
    client = client_for(bob)
    alice_item, erin_item = _item(review, "alice"), _item(review, "erin")
    kept = client.post(
        reverse("web:review-item-keep", args=[alice_item.pk]), {f"i{alice_item.pk}-comment": "ok"}
    )
    assert kept.status_code == 302
    revoked = client.post(reverse("web:review-item-revoke", args=[erin_item.pk]), {})
    assert revoked.status_code == 302
    alice_item.refresh_from_db()
    erin_item.refresh_from_db()
    assert (alice_item.decision, alice_item.comment, erin_item.decision) == ("keep", "ok", "revoke")
    assert erin_item.membership.ended_at is not None and alice_item.membership.ended_at is None
    # A second click is a message, not a 500.
    again = client.post(reverse("web:review-item-keep", args=[erin_item.pk]), follow=True)
    assert again.status_code == 200 and "already decided" in again.content.decode()


@pytest.mark.parametrize("who", ["alice", "erin", "carol", "dave"])
def test_others_get_403_and_nothing_changes(client_for, review, who, request):
    user = request.getfixturevalue(who)
    item = _item(review, "alice")
    before = AuditEvent.objects.count()
    client = client_for(user)
    for name in ("web:review-item-keep", "web:review-item-revoke"):
        assert (
            client.post(
                reverse(name, args=[item.pk]), {f"i{item.pk}-comment": "x" * 5000}
            ).status_code
            == 403
        )
    item.refresh_from_db()
    assert item.outcome == "" and AuditEvent.objects.count() == before


def test_csrf_is_required(review, bob):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    item = _item(review, "alice")
    assert client.post(reverse("web:review-item-revoke", args=[item.pk])).status_code == 403
    item.refresh_from_db()
    assert item.outcome == ""


def test_too_long_comment_is_shown_by_the_field(client_for, review, bob):
    item = _item(review, "alice")
    response = client_for(bob).post(
        reverse("web:review-item-keep", args=[item.pk]), {f"i{item.pk}-comment": "x" * 5000}
    )
    assert response.status_code == 400 and "at most 4000 characters" in response.content.decode()
    item.refresh_from_db()
    assert item.outcome == ""


def test_open_a_review_by_form(client_for, alice, bob, carol, readonly, sandbox, grant):
    grant(alice, readonly)
    client = client_for(carol)
    form = client.get(reverse("web:review-open")).content.decode()
    assert 'for="id_access_group"' in form and 'for="id_deadline"' in form
    bad = client.post(
        reverse("web:review-open"),
        {
            "access_group": readonly.pk,
            "account": sandbox.pk,
            "deadline": "2099-01-01T10:00",
            "on_deadline": "flag",
        },
    )
    assert bad.status_code == 400 and "not both" in bad.content.decode()
    past = client.post(
        reverse("web:review-open"),
        {"access_group": readonly.pk, "deadline": "2001-01-01T10:00", "on_deadline": "flag"},
    )
    assert past.status_code == 400 and "must be in the future" in past.content.decode()
    assert not AccessReview.objects.exists()
    done = client.post(
        reverse("web:review-open"),
        {"access_group": readonly.pk, "deadline": "2099-01-01T10:00", "on_deadline": "flag"},
    )
    review = AccessReview.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse(
        "web:review-detail", args=[review.pk]
    )
    assert review.on_deadline == "flag" and review.items.get().reviewer == bob
    # Not an auditor or admin: 403, nothing opened.
    for user in (alice, bob):
        assert (
            client_for(user)
            .post(
                reverse("web:review-open"),
                {
                    "access_group": readonly.pk,
                    "deadline": "2099-01-01T10:00",
                    "on_deadline": "flag",
                },
            )
            .status_code
            == 403
        )
    assert AccessReview.objects.count() == 1


def test_csv_export(client_for, review, bob, alice, carol):
    review_item_decide(
        item=_item(review, "alice"), reviewer=bob, decision="keep", comment='=HYPERLINK("x")'
    )
    response = client_for(alice).get(reverse("web:review-export", args=[review.pk]))
    assert response.status_code == 403
    response = client_for(bob).get(reverse("web:review-export", args=[review.pk]))
    assert response.status_code == 403  # reviewers decide; auditors and admins export
    response = client_for(carol).get(reverse("web:review-export", args=[review.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_member = {r["member"]: r for r in rows}
    assert set(by_member) == {"alice", "erin"}
    assert by_member["alice"]["decision"] == "keep" and by_member["alice"]["reviewer"] == "bob"
    assert by_member["alice"]["comment"] == '\'=HYPERLINK("x")'  # neutralised for spreadsheets
    assert (
        by_member["alice"]["accounts"] == "100000000001" and by_member["alice"]["applied"] == "yes"
    )
    assert by_member["erin"]["decision"] == "" and by_member["erin"]["outcome"] == ""


def _review_of(n: int, group, carol, in_a_week) -> AccessReview:
    from accessgroups.models import Membership, MembershipSource

    users = User.objects.bulk_create(
        User(username=f"m{group.name}{i}", email=f"m{group.name}{i}@example.com") for i in range(n)
    )
    Membership.objects.bulk_create(
        Membership(user=u, access_group=group, source=MembershipSource.ADMIN) for u in users
    )
    return access_review_open(opened_by=carol, access_group=group, deadline=in_a_week)


def test_review_page_queries_do_not_grow_with_items(
    client_for, bob, carol, make_group, sandbox, in_a_week
):
    small = _review_of(
        5, make_group("Small", accounts=[sandbox], approvers=[bob]), carol, in_a_week
    )
    large = _review_of(
        50, make_group("Large", accounts=[sandbox], approvers=[bob]), carol, in_a_week
    )
    for user in (bob, carol):
        client = client_for(user)
        counts = []
        for review in (small, large):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(reverse("web:review-detail", args=[review.pk]))
            assert response.status_code == 200
            counts.append(len(captured))
        assert counts[0] == counts[1], counts
    with CaptureQueriesContext(connection) as captured:
        assert client_for(bob).get(reverse("web:reviews")).status_code == 200
    listing = len(captured)
    _review_of(5, make_group("More", accounts=[sandbox], approvers=[bob]), carol, in_a_week)
    with CaptureQueriesContext(connection) as captured:
        client_for(bob).get(reverse("web:reviews"))
    assert len(captured) == listing


def test_hostile_ids_and_input_give_404_or_400_never_500(client_for, carol, bob, readonly):
    huge = "9" * 30
    for url in (f"/reviews/{huge}/", f"/reviews/{huge}/export.csv"):
        assert client_for(carol).get(url).status_code == 404
    assert client_for(bob).post(f"/reviews/items/{huge}/keep/").status_code == 404
    refused = client_for(carol).post(
        reverse("web:review-open"),
        {"access_group": huge, "deadline": "99999-01-01T00:00", "on_deadline": "<script>"},
    )
    assert refused.status_code == 400 and "<script>" not in refused.content.decode()
    assert not AccessReview.objects.exists()


def test_no_buttons_past_the_deadline_before_the_close_task(client_for, review, bob):
    AccessReview.objects.filter(pk=review.pk).update(
        opened_at=review.opened_at - timedelta(days=30),
        deadline=timezone.now() - timedelta(minutes=1),
    )
    page = client_for(bob).get(reverse("web:review-detail", args=[review.pk])).content.decode()
    assert "Keep</button>" not in page and "Not yet decided" in page
    item = _item(review, "alice")
    response = client_for(bob).post(reverse("web:review-item-keep", args=[item.pk]), follow=True)
    assert "the review has closed" in response.content.decode()
    item.refresh_from_db()
    assert item.outcome == ""
