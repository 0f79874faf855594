"""Pages cost the same number of SQL queries with 5 rows as with 200."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accessgroups.models import (
    AccessRequest,
    Decision,
    DecisionOutcome,
    Membership,
    MembershipSource,
    RequestStatus,
    User,
)
from accessgroups.web import choices

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    # The cold path: pages keep what groups grant in the cache (accessgroups.web.cards) and
    # the account filter's options in process memory (accessgroups.web.choices).
    cache.clear()
    choices.forget()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _people(n: int, prefix: str) -> list[User]:
    return User.objects.bulk_create(
        User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(n)
    )


def _history(requester: User, group, approver: User, n: int) -> None:
    """n requests of one requester, each decided, active and then revoked (a full timeline)."""
    now = timezone.now()
    memberships = Membership.objects.bulk_create(
        Membership(
            user=requester,
            access_group=group,
            source=MembershipSource.REQUEST,
            granted_at=now,
            granted_by=approver,
            activated_at=now,
            ended_at=now,
            end_reason="revoked",
            ended_by=approver,
        )
        for _ in range(n)
    )
    requests = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester=requester,
            access_group=group,
            justification=f"job {i}",
            status=RequestStatus.REVOKED,
            membership=m,
        )
        for i, m in enumerate(memberships)
    )
    Decision.objects.bulk_create(
        Decision(
            request=r, requester=requester, decided_by=approver, outcome=DecisionOutcome.APPROVE
        )
        for r in requests
    )


def _pending_for(group, requesters: list[User]) -> None:
    AccessRequest.objects.bulk_create(
        AccessRequest(requester=u, access_group=group, justification="please") for u in requesters
    )


def _active_in(group, users: list[User], approver: User) -> None:
    now = timezone.now()
    Membership.objects.bulk_create(
        Membership(
            user=u,
            access_group=group,
            source=MembershipSource.REQUEST,
            granted_at=now,
            granted_by=approver,
            activated_at=now,
        )
        for u in users
    )


@pytest.mark.parametrize("name", ["web:my-requests", "web:my-requests-fragment"])
def test_my_requests(client_for, alice, bob, readonly, name):
    client = client_for(alice)
    _history(alice, readonly, bob, 5)
    few = _queries(client, reverse(name))
    _history(alice, readonly, bob, 195)
    assert _queries(client, reverse(name)) == few
    assert _queries(client, reverse(name) + "?page=3") == few


def test_approvals(client_for, bob, readonly, make_account, make_group):
    for _ in range(3):
        readonly.account_links.create(account=make_account())
    client = client_for(bob)
    people = _people(200, "person")
    _pending_for(readonly, people[:5])
    _active_in(readonly, people[:5], bob)
    _history(people[0], readonly, bob, 5)
    pages = ("web:approvals", "web:approvals-access", "web:approvals-decisions")
    few = {name: _queries(client, reverse(name)) for name in pages}
    _pending_for(readonly, people[5:])
    _active_in(readonly, people[5:], bob)
    _history(people[1], readonly, bob, 195)
    for name in pages:
        assert _queries(client, reverse(name)) == few[name]
        assert _queries(client, reverse(name) + "?page=3") == few[name]


def test_catalogue_and_my_access(client_for, alice, bob, make_group, make_account):
    accounts = [make_account() for _ in range(3)]
    client = client_for(alice)

    def groups(start: int, n: int) -> None:
        made = [
            make_group(
                f"G{i}", accounts=accounts, approvers=[bob], max_duration_hours=i % 2 or None
            )
            for i in range(start, start + n)
        ]
        _active_in_many(made)

    def _active_in_many(made) -> None:
        now = timezone.now()
        Membership.objects.bulk_create(
            Membership(
                user=alice,
                access_group=g,
                source=MembershipSource.ADMIN,
                granted_at=now,
                activated_at=now,
            )
            for g in made
        )

    groups(0, 5)
    few = (_queries(client, reverse("web:catalogue")), _queries(client, reverse("web:my-access")))
    groups(5, 45)
    assert (
        _queries(client, reverse("web:catalogue")),
        _queries(client, reverse("web:my-access")),
    ) == few
