"""Access reviews over the API: carol opens one, bob keeps and revokes his items through the
same workflow as the pages, nobody else decides, refusals name the field and change nothing,
and the export is the page's export."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from accessgroups.access.services import membership_activated, membership_grant, membership_revoke
from accessgroups.models import AccessReview, AuditEvent, EndReason, Membership, ReviewItem
from accessgroups.reviews.services import access_review_open, access_reviews_close_due
from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.syncs import run_enqueued

URL = "/api/v1/access-reviews/"


def _active(user, group, admin) -> Membership:
    membership = membership_grant(
        user=user, access_group=group, granted_by=admin, justification="on call"
    )
    membership_activated(membership_id=membership.pk)
    return membership


@pytest.fixture
def in_a_week():
    return timezone.now() + timedelta(days=7)


@pytest.fixture
def members(alice, bob, erin, dave, readonly) -> dict[str, Membership]:
    """alice, erin and bob in ReadOnly, which only bob approves: bob reviews alice and erin,
    and dave (the admin) reviews bob."""
    return {user.username: _active(user, readonly, dave) for user in (alice, erin, bob)}


@pytest.fixture
def review(members, carol, readonly, in_a_week) -> AccessReview:
    return access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)


def _item(review: AccessReview, username: str) -> ReviewItem:
    return review.items.get(membership__user__username=username)


def _items_url(review: AccessReview, item: ReviewItem | None = None, action: str = "") -> str:
    url = f"{URL}{review.pk}/items/"
    return f"{url}{item.pk}/{action}/" if item is not None else url


def test_open_as_auditor_and_read_it(api, members, carol, readonly, in_a_week):
    deadline = in_a_week.replace(microsecond=0)
    response = api(carol).post(
        URL,
        {"access_group": readonly.pk, "deadline": deadline.isoformat().replace("+00:00", "Z")},
        format="json",
    )
    assert response.status_code == 201, response.data
    review = AccessReview.objects.get()
    assert response.data == {
        "id": review.pk,
        "scope": "access group ReadOnly",
        "access_group": readonly.pk,
        "account": None,
        "opened_by": "carol",
        "opened_at": response.data["opened_at"],
        "deadline": response.data["deadline"],
        "on_deadline": "revoke",  # the portal's default
        "closed_at": None,
        "item_count": 3,
        "decisions": {"keep": 0, "revoke": 0, "undecided": 3},
        "outcomes": {"pending": 3, "kept": 0, "revoked": 0, "flagged": 0, "ended": 0},
    }
    assert parse_datetime(response.data["deadline"]) == deadline == review.deadline
    assert parse_datetime(response.data["opened_at"]) == review.opened_at
    assert sorted(review.items.values_list("member__username", "reviewer__username")) == [
        ("alice", "bob"),
        ("bob", "dave"),  # never his own: the group's only other reviewer is an admin
        ("erin", "bob"),
    ]
    assert AuditEvent.objects.get(action="review.opened").actor == carol
    client = api(carol)
    assert client.get(f"{URL}{review.pk}/").data == response.data
    assert [r["id"] for r in client.get(URL).data["results"]] == [review.pk]


def test_open_an_account_review_that_flags(api, alice, dave, readonly, sandbox, in_a_week):
    _active(alice, readonly, dave)
    response = api(dave).post(
        URL,
        {
            "account": sandbox.account_id,
            "deadline": in_a_week.isoformat(),
            "on_deadline": "flag",
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    assert (response.data["account"], response.data["access_group"]) == (sandbox.account_id, None)
    assert response.data["scope"] == f"account sandbox ({sandbox.account_id})"
    assert response.data["on_deadline"] == "flag" and response.data["item_count"] == 1


def test_bob_keeps_one_and_revokes_another(
    api, review, members, bob, carol, sandbox, django_capture_on_commit_callbacks
):
    client = api(bob)
    mine = client.get(_items_url(review)).data
    assert mine["count"] == 2  # alice's and erin's; his own item is dave's to decide
    assert {i["member"] for i in mine["results"]} == {"alice", "erin"}
    alice_item, erin_item = _item(review, "alice"), _item(review, "erin")

    kept = client.post(
        _items_url(review, alice_item, "keep"), {"comment": "still on call"}, format="json"
    )
    assert kept.status_code == 200, kept.data
    assert {k: kept.data[k] for k in ("member", "reviewer", "decision", "comment", "outcome")} == {
        "member": "alice",
        "reviewer": "bob",
        "decision": "keep",
        "comment": "still on call",
        "outcome": "kept",
    }
    assert kept.data["accounts"] == [sandbox.account_id]

    with django_capture_on_commit_callbacks() as callbacks:
        revoked = client.post(_items_url(review, erin_item, "revoke"), format="json")
    assert revoked.status_code == 202, revoked.data
    assert (revoked.data["decision"], revoked.data["outcome"]) == ("revoke", "revoked")
    # The revocation took the normal path: end-dated by bob, audited, its sync enqueued.
    erin = Membership.objects.get(pk=members["erin"].pk)
    assert (erin.end_reason, erin.ended_by, erin.provisioning_status) == (
        EndReason.REVOKED,
        bob,
        "pending",
    )
    assert run_enqueued(callbacks) == [("membership_sync_task", (erin.pk,))]
    event = AuditEvent.objects.get(action="membership.revoked")
    assert event.actor == bob and f"access review #{review.pk}" in event.message
    assert Membership.objects.get(pk=members["alice"].pk).ended_at is None

    everything = api(carol).get(f"{URL}{review.pk}/").data
    assert everything["decisions"] == {"keep": 1, "revoke": 1, "undecided": 1}
    assert everything["outcomes"]["pending"] == 1
    # bob's counts are of his own items
    own = client.get(f"{URL}{review.pk}/").data
    assert own["item_count"] == 2 and own["decisions"] == {"keep": 1, "revoke": 1, "undecided": 0}
    assert client.get(_items_url(review) + "?pending=true").data["count"] == 0
    assert client.get(_items_url(review) + "?pending=false").data["count"] == 2

    # A second decision is refused with the reason, and changes nothing.
    before = database_fingerprint()
    again = client.post(_items_url(review, alice_item, "revoke"), format="json")
    assert again.status_code == 409 and "already decided" in again.data["detail"]
    assert database_fingerprint() == before


def test_alice_cannot_open_or_decide(api, review, alice, bob):
    client, approver = api(alice), api(bob)
    before = database_fingerprint()
    opened = client.post(
        URL,
        {"access_group": review.access_group_id, "deadline": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert opened.status_code == 403
    for username in ("alice", "erin"):  # her own membership's item, and another's
        item = _item(review, username)
        for action in ("keep", "revoke"):
            response = client.post(_items_url(review, item, action), format="json")
            assert response.status_code == 403, response.data
    assert approver.post(URL, {}, format="json").status_code == 403  # approvers do not open
    assert database_fingerprint() == before


def test_revoking_access_that_already_ended_is_recorded_as_ended(api, review, members, bob, dave):
    membership_revoke(membership=members["alice"], revoked_by=dave, comment="left")
    response = api(bob).post(
        _items_url(review, _item(review, "alice"), "revoke"), format="json"
    )
    assert response.status_code == 200, response.data  # nothing left to do in Identity Center
    assert (response.data["decision"], response.data["outcome"]) == ("revoke", "ended")
    assert AuditEvent.objects.filter(action="membership.revoked").count() == 1


def test_a_deadline_without_a_zone_is_utc(api, members, carol, readonly):
    body = {"access_group": readonly.pk, "deadline": "2099-01-01T10:00:00"}
    response = api(carol).post(URL, body, format="json")
    assert response.status_code == 201, response.data
    assert AccessReview.objects.get().deadline.isoformat() == "2099-01-01T10:00:00+00:00"


def test_bob_cannot_decide_his_own_membership(api, review, bob, dave):
    own = _item(review, "bob")
    client = api(bob)
    before = database_fingerprint()
    for action in ("keep", "revoke"):
        response = client.post(_items_url(review, own, action), {"comment": "mine"}, format="json")
        assert response.status_code == 403 and "reviewer" in response.data["detail"]
    assert database_fingerprint() == before
    assert api(dave).post(_items_url(review, own, "keep"), format="json").status_code == 200


def test_a_closed_review_refuses(api, review, bob):
    access_reviews_close_due(now=review.deadline + timedelta(seconds=1))
    item = _item(review, "alice")  # revoked at the deadline, undecided
    client = api(bob)
    before = database_fingerprint()
    response = client.post(_items_url(review, item, "keep"), format="json")
    assert response.status_code == 409 and "closed" in response.data["detail"]
    assert database_fingerprint() == before
    listed = client.get(f"{URL}?open=false").data["results"]
    assert [r["id"] for r in listed] == [review.pk] and listed[0]["closed_at"] is not None
    assert listed[0]["outcomes"]["revoked"] == 2  # bob's two, revoked by the deadline
    assert client.get(f"{URL}?open=true").data["count"] == 0


def test_past_the_deadline_refuses_before_the_close_task(api, review, bob):
    AccessReview.objects.filter(pk=review.pk).update(
        opened_at=review.opened_at - timedelta(days=30),
        deadline=timezone.now() - timedelta(minutes=1),
    )
    client = api(bob)
    before = database_fingerprint()
    response = client.post(_items_url(review, _item(review, "alice"), "revoke"), format="json")
    assert response.status_code == 409
    assert database_fingerprint() == before


def test_who_sees_which_reviews_and_items(api, review, alice, bob, carol, dave, erin):
    assert api(alice).get(URL).data["count"] == 0
    for user in (alice, erin):  # members who review nothing here
        client = api(user)
        assert client.get(f"{URL}{review.pk}/").status_code == 403
        assert client.get(_items_url(review)).status_code == 403
    assert api(bob).get(URL).data["count"] == 1
    for user in (carol, dave):
        assert api(user).get(_items_url(review)).data["count"] == 3
    assert {i["member"] for i in api(dave).get(_items_url(review)).data["results"]} == {
        "alice",
        "bob",
        "erin",
    }
    for user in (alice, bob):
        refused = api(user).get(f"{URL}{review.pk}/export/", HTTP_ACCEPT="text/csv")
        assert refused.status_code == 403 and refused["Content-Type"] == "application/json"
    missing = 10**6 + review.pk
    assert api(carol).get(f"{URL}{missing}/").status_code == 404
    assert api(carol).get(f"{URL}{missing}/items/").status_code == 404
    huge = "9" * 30
    assert api(carol).get(f"{URL}{huge}/").status_code == 404
    assert api(carol).get(f"{URL}{huge}/export/").status_code == 404
    assert api(bob).post(f"{URL}{review.pk}/items/{huge}/keep/").status_code == 404
    assert api(bob).post(f"{URL}{huge}/items/1/keep/").status_code == 404


def test_an_item_of_another_review_is_not_found_here(
    api, review, bob, carol, make_group, sandbox, in_a_week, alice, dave
):
    other_group = make_group("Other", accounts=[sandbox], approvers=[bob])
    _active(alice, other_group, dave)
    other = access_review_open(opened_by=carol, access_group=other_group, deadline=in_a_week)
    item = other.items.get()
    client = api(bob)
    before = database_fingerprint()
    assert client.post(_items_url(review, item, "keep"), format="json").status_code == 404
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"access_group": None}, "access_group"),  # neither group nor account
        ({"account": "SANDBOX"}, "account"),
        ({"account": "1\x00"}, "account"),
        ({"account": ["111111111111"]}, "account"),
        ({"access_group": 999999}, "access_group"),
        ({"access_group": 2**63}, "access_group"),
        ({"access_group": "ReadOnly"}, "access_group"),
        ({"deadline": None}, "deadline"),
        ({"deadline": "next week"}, "deadline"),
        ({"deadline": "2099-13-01T00:00:00Z"}, "deadline"),
        ({"deadline": "2001-01-01T00:00:00Z"}, "deadline"),  # in the past
        ({"on_deadline": "delete"}, "on_deadline"),
    ],
)
def test_open_bad_input(api, members, carol, readonly, change, field):
    body = {"access_group": readonly.pk, "deadline": "2099-01-01T00:00:00Z", **change}
    client = api(carol)
    before = database_fingerprint()
    assert_bad_input(client.post(URL, body, format="json"), field, before)


def test_open_both_scopes_or_archived_or_empty(api, members, carol, readonly, sandbox, make_group):
    client = api(carol)
    before = database_fingerprint()
    deadline = "2099-01-01T00:00:00Z"
    both = {"access_group": readonly.pk, "account": sandbox.account_id, "deadline": deadline}
    assert_bad_input(client.post(URL, both, format="json"), "access_group", before)
    archived = make_group("Gone", archived_at=timezone.now())
    before = database_fingerprint()
    body = {"access_group": archived.pk, "deadline": deadline}
    assert_bad_input(client.post(URL, body, format="json"), "access_group", before)
    empty = make_group("Empty")
    before = database_fingerprint()
    body = {"access_group": empty.pk, "deadline": deadline}
    assert_bad_input(client.post(URL, body, format="json"), "non_field_errors", before)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"comment": "x" * 4001}, "comment"),
        ({"comment": ["keep"]}, "comment"),
        ({"comment": "ok\x00"}, "comment"),
    ],
)
@pytest.mark.parametrize("action", ["keep", "revoke"])
def test_decide_bad_input(api, review, bob, action, body, field):
    client = api(bob)
    before = database_fingerprint()
    response = client.post(_items_url(review, _item(review, "alice"), action), body, format="json")
    assert_bad_input(response, field, before)


def test_bad_filters_name_the_parameter(api, review, bob):
    client = api(bob)
    before = database_fingerprint()
    assert_bad_input(client.get(f"{URL}?open=maybe"), "open", before)
    assert_bad_input(client.get(_items_url(review) + "?pending=1"), "pending", before)


def test_export_is_the_pages_export(api, client_for, review, bob, carol):
    client = api(bob)
    client.post(_items_url(review, _item(review, "alice"), "keep"), {"comment": "=1+1"})
    client.post(_items_url(review, _item(review, "erin"), "revoke"), {"comment": "left"})
    response = api(carol).get(f"{URL}{review.pk}/export/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    page = client_for(carol).get(reverse("web:review-export", args=[review.pk]))
    assert response["Content-Disposition"] == page["Content-Disposition"]
    exported = b"".join(response.streaming_content)
    assert exported == b"".join(page.streaming_content)
    lines = exported.decode().splitlines()
    assert lines[0].startswith("review,member,access_group,accounts,reviewer,decision")
    assert len(lines) == 4 and ",'=1+1," in exported.decode()  # neutralised, like the page


def test_the_browsable_api_shows_items_and_the_export_stays_a_file(review, dave):
    client = APIClient()
    client.force_login(dave)
    page = client.get(_items_url(review), HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "alice" in page.content.decode()
    exported = client.get(f"{URL}{review.pk}/export/", HTTP_ACCEPT="text/html")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
