"""`manage.py seed_demo` in-process: run twice it adds nothing the second time, and the
demo has an open access review that bob (the demo approver) has items to decide in.
(tests/system/test_serve.py runs it the way `make run` does, with the worker.)"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accessgroups.models import (
    AccessGroup,
    AccessReview,
    Account,
    ApiToken,
    AuditEvent,
    Membership,
    ReviewItem,
    User,
)
from accessgroups.reviews.services import access_reviews_close_due

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, Account, AccessGroup, Membership, AccessReview, ReviewItem)
    }


def test_twice_adds_nothing_the_second_time():
    printed = _seed()
    first = _rows()
    assert first == {
        "User": 4,
        "Account": 4,
        "AccessGroup": 3,
        "Membership": 3,
        "AccessReview": 1,
        "ReviewItem": 3,
    }
    # Each run makes new API tokens (a key cannot be shown twice) and revokes the old ones:
    # those events, and only those, are new.
    events = AuditEvent.objects.exclude(action__startswith="user.").exclude(
        action__startswith="api_token."
    )
    before = events.count()
    _seed()
    assert _rows() == first
    assert events.count() == before
    for username in ("alice", "bob", "carol", "admin"):
        assert f"  {username} " in printed


def test_the_printout_sends_passkeys_to_a_host_name():
    out = io.StringIO()
    call_command("seed_demo", base_url="http://127.0.0.1:8001", stdout=out)
    printed = out.getvalue()
    assert "Sign in:       http://127.0.0.1:8001/accounts/login/" in printed
    assert "Passkeys:      http://localhost:8001/accounts/2fa/" in printed


def test_the_demo_review_gives_bob_something_to_do(client_for):
    _seed()
    review = AccessReview.objects.get()
    assert (review.access_group.name, review.opened_by.username, review.on_deadline) == (
        "ReadOnly",
        "carol",
        "flag",
    )
    assert review.is_open
    assert abs(review.deadline - review.opened_at - timedelta(days=14)) < timedelta(minutes=1)
    assert sorted(review.items.values_list("member__username", "reviewer__username")) == [
        ("alice", "bob"),
        ("bob", "admin"),  # nobody reviews their own access
        ("carol", "bob"),
    ]
    bob = User.objects.get(username="bob")
    client = client_for(bob)
    listing = client.get(reverse("web:reviews")).content.decode()
    assert f"#{review.pk} access group ReadOnly" in listing
    page = client.get(reverse("web:review-detail", args=[review.pk])).content.decode()
    assert page.count("Keep</button>") == 2 and page.count("Revoke</button>") == 2


def test_a_closed_demo_review_is_followed_by_a_new_one():
    _seed()
    review = AccessReview.objects.get()
    access_reviews_close_due(now=review.deadline + timedelta(seconds=1))
    assert Membership.objects.active().count() == 3  # flagged, not revoked
    _seed()
    fresh = AccessReview.objects.get(closed_at__isnull=True)
    assert fresh.pk != review.pk and fresh.items.count() == 3
    assert AccessReview.objects.count() == 2


DEMO_CREDENTIALS = re.compile(r"^  (alice|bob|carol|admin)\s+(\S+)\s+([0-9a-f]{40})\s", re.MULTILINE)


def test_the_printed_tokens_are_personal_tokens_that_work_until_the_next_run():
    first = {user: key for user, _password, key in DEMO_CREDENTIALS.findall(_seed())}
    assert set(first) == {"alice", "bob", "carol", "admin"}
    for user, key in first.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get("/api/v1/access-groups/").status_code == 200, user
    tokens = ApiToken.objects.filter(name="demo")
    assert tokens.count() == 4 and not tokens.filter(key_hash__in=first.values()).exists()

    second = {user: key for user, _password, key in DEMO_CREDENTIALS.findall(_seed())}

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first['alice']}")
    assert client.get("/api/v1/access-groups/").status_code == 401  # revoked by the new run
    client.credentials(HTTP_AUTHORIZATION=f"Token {second['alice']}")
    assert client.get("/api/v1/access-groups/").status_code == 200
    assert ApiToken.objects.active().filter(name="demo").count() == 4
