"""Who may call what: one generic suite for every /api/v1/ route, method and role.

The routes come from the URL configuration itself, so a new endpoint without an entry in
EXPECTED fails test_every_route_has_an_expectation. Each case builds the rows the route
needs, calls it as one persona, and checks: allowed -> a 2xx; refused -> 401 (anonymous)
or 403, and not one row changed anywhere (audit log included) and nothing was enqueued.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_activated,
    membership_grant,
)
from accessgroups.changes.services import change_propose
from accessgroups.core.audit import audit_record
from accessgroups.models import (
    AccessGroup,
    AccessReview,
    Membership,
    OrganizationalUnit,
    ProvisioningStatus,
    User,
)
from accessgroups.reviews.services import access_review_open
from tests.api.helpers import database_fingerprint

IGNORED_METHODS = {"head", "options"}  # HEAD mirrors GET; OPTIONS describes and changes nothing


def _walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def api_routes() -> list[tuple[str, str]]:
    """(route name, HTTP method) for every route under /api/v1/."""
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        assert pattern.name, f"API route {route} has no name; name it so it can be in EXPECTED"
        actions = getattr(pattern.callback, "actions", None)
        if actions is not None:
            methods = set(actions)
        else:
            view_class = pattern.callback.cls
            methods = {m for m in view_class.http_method_names if hasattr(view_class, m)}
        found += [(pattern.name, m.upper()) for m in sorted(methods - IGNORED_METHODS)]
    return found


ROLES = ("anonymous", "alice", "bob", "carol", "dave")  # requester, approver, auditor, admin
SIGNED_IN = {"alice", "bob", "carol", "dave"}
AUDIT = {"carol", "dave"}
ADMIN = {"dave"}

EXPECTED: dict[tuple[str, str], set[str]] = {
    ("api-root", "GET"): SIGNED_IN,
    ("user-list", "GET"): AUDIT,
    ("user-list", "POST"): ADMIN,
    ("user-detail", "GET"): AUDIT,
    ("user-retry", "POST"): ADMIN,
    ("user-deactivate", "POST"): ADMIN,
    ("account-list", "GET"): SIGNED_IN,
    ("account-list", "POST"): ADMIN,
    ("account-detail", "GET"): SIGNED_IN,
    ("organizational-unit-list", "GET"): SIGNED_IN,
    ("organizational-unit-detail", "GET"): SIGNED_IN,
    ("account-sync", "POST"): ADMIN,
    ("access-group-list", "GET"): SIGNED_IN,
    ("access-group-list", "POST"): ADMIN,
    ("access-group-detail", "GET"): SIGNED_IN,
    ("access-group-detail", "PATCH"): ADMIN,
    ("access-group-detail", "DELETE"): ADMIN,
    ("access-group-retry", "POST"): ADMIN,
    ("access-group-export", "GET"): AUDIT,
    ("access-group-plan", "POST"): ADMIN,
    # Change requests (four eyes): auditors read; an admin other than the proposer decides.
    ("change-request-list", "GET"): AUDIT,
    ("change-request-list", "POST"): ADMIN,
    ("change-request-detail", "GET"): AUDIT,
    ("change-request-approve", "POST"): ADMIN,  # proposed by frank, another admin
    ("change-request-reject", "POST"): ADMIN,
    ("change-request-withdraw", "POST"): ADMIN,  # proposed by dave himself
    ("access-request-list", "GET"): SIGNED_IN,
    ("access-request-list", "POST"): SIGNED_IN,
    # alice's pending request: she, bob (approver of its group), carol and dave see it.
    ("access-request-detail", "GET"): SIGNED_IN,
    ("access-request-approve", "POST"): {"bob", "dave"},  # never alice: her own request
    ("access-request-reject", "POST"): {"bob", "dave"},
    ("access-request-cancel", "POST"): {"alice", "dave"},
    ("access-request-revoke", "POST"): {"alice", "bob", "dave"},
    # alice's break-glass access: reviewed by bob (its group's approver) or dave, never alice.
    ("access-request-acknowledge", "POST"): {"bob", "dave"},
    ("membership-list", "GET"): SIGNED_IN,  # each sees what visible_to allows
    ("membership-list", "POST"): ADMIN,
    ("membership-detail", "GET"): SIGNED_IN,  # alice's: the member, the approver, auditor, admin
    ("membership-revoke", "POST"): {"alice", "bob", "dave"},
    ("membership-retry", "POST"): ADMIN,
    ("who-has-access-list", "GET"): AUDIT,
    ("audit-event-list", "GET"): AUDIT,
    ("audit-event-detail", "GET"): AUDIT,
    ("drift-finding-list", "GET"): AUDIT,
    ("drift-finding-scan", "POST"): ADMIN,
    ("identity-center-group-list", "GET"): AUDIT,
    ("identity-center-group-sync", "GET"): AUDIT,
    ("identity-center-group-sync", "POST"): ADMIN,
    ("access-review-list", "GET"): SIGNED_IN,  # each sees the reviews they may (alice: none)
    ("access-review-list", "POST"): AUDIT,
    # A review of the group with alice's item, reviewed by bob: he, carol and dave see it.
    ("access-review-detail", "GET"): {"bob", "carol", "dave"},
    ("access-review-export", "GET"): AUDIT,
    ("access-review-item-list", "GET"): {"bob", "carol", "dave"},
    ("access-review-item-keep", "POST"): {"bob"},  # only the item's reviewer, never the member
    ("access-review-item-revoke", "POST"): {"bob"},
}


@dataclass
class World:
    users: dict[str, User]
    group: AccessGroup
    account_id: str

    def __getattr__(self, name: str) -> User:
        try:
            return self.users[name]
        except KeyError:
            raise AttributeError(name) from None


def _pending(w: World):
    return access_request_create(
        requester=w.alice, access_group=w.group, justification="on call this week"
    )


def _active(w: World):
    request = access_request_approve(access_request=_pending(w), approver=w.bob)
    membership_activated(membership_id=request.membership_id)
    return request


def _break_glass(w: World):
    AccessGroup.objects.filter(pk=w.group.pk).update(break_glass=True)
    w.group.refresh_from_db()
    return access_request_create(
        requester=w.alice,
        access_group=w.group,
        justification="production is down, incident 42",
        break_glass=True,
    )


def _membership(w: World) -> Membership:
    return membership_grant(
        user=w.alice, access_group=w.group, granted_by=w.dave, justification="incident 42"
    )


def _review(w: World) -> AccessReview:
    _membership(w)
    return access_review_open(
        opened_by=w.carol, access_group=w.group, deadline=timezone.now() + timedelta(days=7)
    )


def _review_item(w: World) -> dict[str, int]:
    review = _review(w)
    return {"review_pk": review.pk, "pk": review.items.get().pk}


def _failed(model, pk: int) -> int:
    model.objects.filter(pk=pk).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error="boom"
    )
    return pk


def _proposal(w: World, by: str = "frank") -> int:
    proposer = w.users["dave"]
    if by != "dave":
        proposer = User.objects.create(username=by, email=f"{by}@example.com", is_portal_admin=True)
    return change_propose(
        actor=proposer,
        action="update",
        access_group=w.group,
        fields={"description": "proposed"},
    ).pk


def _unit() -> OrganizationalUnit:
    return OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root")


# route name -> world -> (URL kwargs, body for writes)
SETUPS: dict[str, Callable[[World], tuple[dict[str, Any], dict[str, Any] | None]]] = {
    "api-root": lambda w: ({}, None),
    "user-list": lambda w: (
        {},
        {
            "username": "frank",
            "email": "frank@example.com",
            "given_name": "Frank",
            "family_name": "Example",
        },
    ),
    "user-detail": lambda w: ({"pk": w.alice.pk}, None),
    "user-retry": lambda w: ({"pk": _failed(User, w.alice.pk)}, {}),
    "user-deactivate": lambda w: ({"pk": w.erin.pk}, {}),
    "account-list": lambda w: ({}, {"account_id": "999999999999", "name": "new-account"}),
    "account-detail": lambda w: ({"account_id": w.account_id}, None),
    "organizational-unit-list": lambda w: ({}, None),
    "organizational-unit-detail": lambda w: ({"ou_id": _unit().ou_id}, None),
    "account-sync": lambda w: ({}, {}),
    "access-group-list": lambda w: (
        {},
        {
            "name": "NewGroup",
            "accounts": [w.account_id],
            "aws_managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "approvers": ["bob"],
        },
    ),
    "access-group-detail": lambda w: ({"pk": w.group.pk}, {"description": "changed"}),
    "access-group-retry": lambda w: ({"pk": _failed(AccessGroup, w.group.pk)}, {}),
    "access-group-export": lambda w: ({}, None),
    "access-group-plan": lambda w: ({}, {"access_group": w.group.pk, "session_duration": "PT2H"}),
    "change-request-list": lambda w: (
        {},
        {"action": "update", "access_group": w.group.pk, "fields": {"description": "changed"}},
    ),
    "change-request-detail": lambda w: ({"pk": _proposal(w)}, None),
    "change-request-approve": lambda w: ({"pk": _proposal(w)}, {"comment": "ok"}),
    "change-request-reject": lambda w: ({"pk": _proposal(w)}, {"comment": "no"}),
    "change-request-withdraw": lambda w: ({"pk": _proposal(w, by="dave")}, {}),
    "access-request-list": lambda w: (
        {},
        {"access_group": w.group.pk, "justification": "need to read logs"},
    ),
    "access-request-detail": lambda w: ({"pk": _pending(w).pk}, None),
    "access-request-approve": lambda w: ({"pk": _pending(w).pk}, {"comment": "ok"}),
    "access-request-reject": lambda w: ({"pk": _pending(w).pk}, {"comment": "no"}),
    "access-request-cancel": lambda w: ({"pk": _pending(w).pk}, {}),
    "access-request-revoke": lambda w: ({"pk": _active(w).pk}, {}),
    "access-request-acknowledge": lambda w: ({"pk": _break_glass(w).pk}, {"comment": "seen"}),
    "membership-list": lambda w: (
        {},
        {"user": "erin", "access_group": w.group.pk, "justification": "on call"},
    ),
    "membership-detail": lambda w: ({"pk": _membership(w).pk}, None),
    "membership-revoke": lambda w: ({"pk": _membership(w).pk}, {}),
    "membership-retry": lambda w: ({"pk": _failed(Membership, _membership(w).pk)}, {}),
    "who-has-access-list": lambda w: ({}, None),
    "audit-event-list": lambda w: ({}, None),
    "audit-event-detail": lambda w: ({"pk": audit_record(action="test.event").pk}, None),
    "drift-finding-list": lambda w: ({}, None),
    "drift-finding-scan": lambda w: ({}, {}),
    "identity-center-group-list": lambda w: ({}, None),
    "identity-center-group-sync": lambda w: ({}, {}),
    "access-review-list": lambda w: (
        {},
        {
            "access_group": _membership(w).access_group_id,
            "deadline": (timezone.now() + timedelta(days=7)).isoformat(),
        },
    ),
    "access-review-detail": lambda w: ({"pk": _review(w).pk}, None),
    "access-review-export": lambda w: ({"pk": _review(w).pk}, None),
    "access-review-item-list": lambda w: ({"review_pk": _review(w).pk}, None),
    "access-review-item-keep": lambda w: (_review_item(w), {"comment": "still needed"}),
    "access-review-item-revoke": lambda w: (_review_item(w), {}),
}

ROUTES = api_routes()


def test_every_route_has_an_expectation():
    missing = sorted(set(ROUTES) - set(EXPECTED))
    assert not missing, f"routes without an entry in EXPECTED (decide who may call them): {missing}"
    stale = sorted(set(EXPECTED) - set(ROUTES))
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"
    assert {name for name, _ in ROUTES} <= set(SETUPS), "every route needs a SETUPS entry"


def test_the_walk_finds_the_api():
    # Guards the walk itself: if it found nothing, the matrix would pass vacuously.
    assert ("access-request-approve", "POST") in ROUTES
    assert ("access-group-detail", "DELETE") in ROUTES


@pytest.fixture
def world(alice, bob, carol, dave, erin, sandbox, make_group) -> World:
    group = make_group("ReadOnly", accounts=[sandbox], approvers=[bob])
    return World(
        users={"alice": alice, "bob": bob, "carol": carol, "dave": dave, "erin": erin},
        group=group,
        account_id=sandbox.account_id,
    )


@pytest.mark.parametrize(
    ("route", "method", "role"),
    [(route, method, role) for route, method in ROUTES for role in ROLES],
)
def test_permission_matrix(route, method, role, world, api, django_capture_on_commit_callbacks):
    kwargs, body = SETUPS[route](world)
    client = api(None if role == "anonymous" else world.users[role])
    url = reverse(route, kwargs=kwargs)
    before = database_fingerprint()

    with django_capture_on_commit_callbacks() as enqueued:
        if method == "GET":
            response = client.get(url)
        else:
            response = getattr(client, method.lower())(url, body or {}, format="json")

    allowed = role in EXPECTED.get((route, method), set())
    if allowed:
        assert response.status_code in (200, 201, 202, 204), (
            response.status_code,
            getattr(response, "data", None),
        )
    else:
        expected = 401 if role == "anonymous" else 403
        assert response.status_code == expected, (
            response.status_code,
            getattr(response, "data", None),
        )
        assert database_fingerprint() == before, "a refused call changed the database"
        assert enqueued == [], "a refused call enqueued work"
    if method == "GET":
        assert database_fingerprint() == before, "a read changed the database"
