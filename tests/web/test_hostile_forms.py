"""Nothing a browser (or a script posing as one) sends makes a page answer 500.

Every page of the portal (the ``web`` namespace, from the URL configuration) is read with odd
query strings and sent forms whose every field holds a value a careless or hostile client
sends, by a user who may use it. Refusals and form errors are fine, 500s are not.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accessgroups.access.services import (
    access_request_create,
    membership_activated,
    membership_grant,
)
from accessgroups.auth.tokens import api_token_create
from accessgroups.changes.services import change_propose
from accessgroups.models import User
from accessgroups.reviews.services import access_review_open

pytestmark = pytest.mark.django_db

HOSTILE = ["", "\x00", "x" * 100_000, "-1", "99999999999999999999", "abc", "2026-13-01T99:99", "<script>"]

# Every field name the portal's forms use (plus the prefixed comment fields), and a stranger.
FIELDS = [
    "justification", "duration_hours", "comment", "name", "description", "accounts",
    "aws_managed_policies", "customer_managed_policies", "inline_policy", "session_duration",
    "approvers", "requestable", "max_duration_hours", "applications_note", "username", "email",
    "given_name", "family_name", "display_name", "roles", "account_id", "access_group",
    "account", "deadline", "on_deadline", "q", "rows", "user", "at", "expiring_before",
    "action", "actor", "object_type", "object_id", "since", "until", "page", "cpage", "days",
    "unexpected",
]

QUERIES = [
    {"page": "-1"}, {"page": "abc"}, {"page": "99999999"}, {"cpage": "abc"}, {"q": "\x00"},
    {"q": "x" * 5000}, {"account": "\x00"}, {"limited": "maybe"}, {"user": "\x00"},
    {"access_group": "abc"}, {"access_group": str(10**30)}, {"at": "9999-99-99T00:00"},
    {"expiring_before": "\x00"}, {"rows": "nonsense"}, {"since": "2026-02-30"},
    {"until": "\x00"}, {"action": "x" * 500}, {"object_id": "\x00"}, {"status": "\x00"},
    {"show": "\x00"},
]


def _web_routes() -> list[tuple[str, list[str]]]:
    """(URL name, its keyword arguments) of every route in the ``web`` namespace."""
    found = []

    def walk(patterns, namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and namespace == "web":
                found.append((f"web:{entry.name}", list(entry.pattern.converters)))

    walk(get_resolver().url_patterns)
    return found


ROUTES = _web_routes()


def test_the_walk_finds_the_pages():
    names = {name for name, _ in ROUTES}
    assert {"web:catalogue", "web:request-approve", "web:manage-group-edit", "web:review-item-keep"} <= names


@pytest.fixture
def world(alice, bob, carol, dave, erin, readonly):
    pending = access_request_create(requester=alice, access_group=readonly, justification="logs")
    membership = membership_grant(user=erin, access_group=readonly, granted_by=dave, justification="x")
    membership_activated(membership_id=membership.pk)
    review = access_review_open(
        opened_by=carol, access_group=readonly, deadline=timezone.now() + timedelta(days=7)
    )
    item = review.items.get()
    token = api_token_create(actor=None, user=dave, name="script").token
    # Proposed by another admin, so that dave may decide it.
    frank = User.objects.create(username="frank", email="frank@example.com", is_portal_admin=True)
    change = change_propose(
        actor=frank, action="update", access_group=readonly, fields={"description": "x"}
    )
    # The id each kind of page takes, by the start of its URL name.
    ids = {
        "web:request-create": {"group_id": readonly.pk},
        "web:request-cancel": {"pk": pending.pk},
        "web:request-approve": {"pk": pending.pk},
        "web:request-reject": {"pk": pending.pk},
        "web:my-access-revoke": {"pk": membership.pk},
        "web:approvals-revoke": {"pk": membership.pk},
        "web:break-glass": {"pk": pending.pk},
        "web:manage-user-deactivate": {"pk": erin.pk},
        "web:manage-user-retry": {"pk": erin.pk},
        "web:manage-membership-retry": {"pk": membership.pk},
        "web:manage-group": {"pk": readonly.pk},
        "web:review-detail": {"pk": review.pk},
        "web:review-export": {"pk": review.pk},
        "web:review-item": {"pk": item.pk},
        "web:api-token-revoke": {"pk": token.pk},
        "web:manage-api-token-revoke": {"pk": token.pk},
        "web:manage-change-request": {"pk": change.pk},
    }
    return {"ids": ids, "users": {"alice": alice, "bob": bob, "dave": dave, "erin": erin}, "item": item}


def _kwargs(world, name: str, converters: list[str]) -> dict:
    if not converters:
        return {}
    for prefix, kwargs in world["ids"].items():
        if name.startswith(prefix):
            return kwargs
    raise AssertionError(f"no id known for {name}: add it to the world fixture")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("name", "converters"), ROUTES, ids=[n for n, _ in ROUTES])
def test_no_query_or_form_makes_a_page_fail(name, converters, world):
    url = reverse(name, kwargs=_kwargs(world, name, converters))
    # erin's own membership for "my access"; bob reviews the item; dave may do the rest.
    who = {"web:my-access-revoke": "erin", "web:review-item-keep": "bob", "web:review-item-revoke": "bob"}
    client = _client(world["users"][who.get(name, "dave")])
    for query in QUERIES:
        response = client.get(url, query)
        assert response.status_code < 500, (query, response.status_code)
    for value in HOSTILE:
        form = {field: value for field in FIELDS}
        form[f"r{world['ids']['web:request-approve']['pk']}-comment"] = value
        form[f"i{world['item'].pk}-comment"] = value
        response = client.post(url, form)
        assert response.status_code < 500, (repr(value)[:40], response.status_code)
    # Ids that do not exist, or are not numbers where a list of them is expected.
    response = client.post(url, {"accounts": ["1", "\x00"], "approvers": ["nobody", ""], "roles": ["root"]})
    assert response.status_code < 500


@pytest.mark.parametrize("name", ["account_login", "account_reset_password", "account_change_password"])
def test_no_sign_in_form_fails_on_hostile_input(name, alice):
    client = Client()
    if name == "account_change_password":
        client.force_login(alice)
    url = reverse(name)
    for value in HOSTILE:
        response = client.post(
            url,
            {"login": value, "password": value, "email": value, "oldpassword": value,
             "password1": value, "password2": value, "remember": value},
        )
        assert response.status_code < 500, (repr(value)[:40], response.status_code)
    for query in ({"next": "\x00"}, {"next": "https://evil.example/"}, {"next": "//evil.example"}):
        assert client.get(url, query).status_code < 500
