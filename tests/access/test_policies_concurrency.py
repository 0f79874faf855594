"""Approvals of a quorum at the same moment never over-count (run on PostgreSQL in CI).

The request row is locked while deciding, so approvals are counted one after another; the
unique constraint on (request, approver, version) refuses a second approval by one person
even if the lock were bypassed.
"""

import threading

import pytest
from django.db import IntegrityError, connection

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import Decision, DecisionOutcome, Membership, RequestStatus
from tests.at_once import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def _race(request, approvers):
    barrier = threading.Barrier(len(approvers))
    outcomes = []

    def approve(user):
        try:
            barrier.wait()
            done = access_request_approve(access_request=request, approver=user)
            outcomes.append(done.status)
        except InvalidTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.fixture
def quiet(monkeypatch):
    sent = []
    monkeypatch.setattr("accessgroups.access.grants.sync_membership", lambda m: sent.append(m.pk))
    monkeypatch.setattr(
        "accessgroups.access.services._sync_membership", lambda m: sent.append(m.pk)
    )
    monkeypatch.setattr("accessgroups.mail.notify._send_on_commit", lambda *args: None)
    return sent


def test_three_approvers_at_once_on_a_quorum_of_two(alice, bob, erin, make_user, make_group, quiet):
    frank = make_user("frank")
    group = make_group("Prod", approvers=[bob, erin, frank], approvals_required=2)
    request = access_request_create(requester=alice, access_group=group, justification="x")

    outcomes = _race(request, [bob, erin, frank])

    assert outcomes == ["approved", "pending", "refused"]
    assert Decision.objects.filter(outcome=DecisionOutcome.APPROVE).count() == 2
    assert Membership.objects.count() == 1
    assert len(quiet) == 1  # one provisioning run


def test_a_full_quorum_at_once_grants_once(alice, bob, erin, make_user, make_group, quiet):
    frank = make_user("frank")
    group = make_group("Prod", approvers=[bob, erin, frank], approvals_required=3)
    request = access_request_create(requester=alice, access_group=group, justification="x")

    outcomes = _race(request, [bob, erin, frank])

    assert outcomes == ["approved", "pending", "pending"]
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert Membership.objects.count() == 1 and len(quiet) == 1


def test_one_approver_twice_at_once_counts_once(alice, bob, erin, make_group, quiet):
    group = make_group("Prod", approvers=[bob, erin], approvals_required=2)
    request = access_request_create(requester=alice, access_group=group, justification="x")

    outcomes = _race(request, [bob, bob])

    assert outcomes == ["pending", "refused"]
    assert Decision.objects.count() == 1
    assert not Membership.objects.exists()


def test_the_database_refuses_a_second_approval_by_one_person(alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    Decision.objects.create(
        request=request, requester=alice, decided_by=bob, outcome="approve", access_group_version=1
    )
    with pytest.raises(IntegrityError):
        Decision.objects.create(
            request=request,
            requester=alice,
            decided_by=bob,
            outcome="approve",
            access_group_version=1,
        )


def test_the_database_refuses_an_automatic_decision_with_a_person(alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    with pytest.raises(IntegrityError):
        Decision.objects.create(request=request, requester=alice, decided_by=bob, outcome="auto")


def test_two_break_glass_requests_at_once_grant_once(alice, bob, make_group, quiet):
    group = make_group("OnCall", approvers=[bob], break_glass=True)

    def take():
        return access_request_create(
            requester=alice,
            access_group=group,
            justification="production is down, incident 42",
            break_glass=True,
        )

    results = at_once(take, take)

    # The second is refused either as a second open request or as access already held,
    # depending on which check it reaches first.
    refused = sorted(type(r).__name__ for r in results)
    assert refused in (["AccessRequest", "Conflict"], ["AccessRequest", "ValidationError"])
    assert Membership.objects.count() == 1 and len(quiet) == 1


def test_two_reviews_at_once_record_one(alice, bob, dave, make_group, quiet):
    from accessgroups.access.break_glass import access_request_acknowledge

    group = make_group("OnCall", approvers=[bob], break_glass=True)
    request = access_request_create(
        requester=alice,
        access_group=group,
        justification="production is down, incident 42",
        break_glass=True,
    )

    results = at_once(
        lambda: access_request_acknowledge(access_request=request, reviewer=bob),
        lambda: access_request_acknowledge(access_request=request, reviewer=dave),
    )

    assert sorted(type(r).__name__ for r in results) == ["AccessRequest", "InvalidTransition"]
    request.refresh_from_db()
    assert request.break_glass_reviewed_by in (bob, dave)


def test_two_automatic_requests_at_once_approve_once(alice, make_group, quiet):
    group = make_group("Sandbox", auto_approve=True)

    def ask():
        return access_request_create(requester=alice, access_group=group, justification="try")

    results = at_once(ask, ask)

    assert sorted(type(r).__name__ for r in results) == ["AccessRequest", "Conflict"]
    assert Decision.objects.filter(outcome=DecisionOutcome.AUTO).count() == 1
    assert Membership.objects.count() == 1 and len(quiet) == 1


def test_a_high_risk_quorum_at_once_needs_every_comment(alice, bob, erin, make_group, quiet):
    group = make_group("Admins", approvers=[bob, erin], approvals_required=2, risk="high")
    request = access_request_create(requester=alice, access_group=group, justification="x")

    results = at_once(
        lambda: access_request_approve(access_request=request, approver=bob, comment="checked"),
        lambda: access_request_approve(access_request=request, approver=erin),
    )

    assert sorted(type(r).__name__ for r in results) == ["AccessRequest", "ValidationError"]
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert Decision.objects.count() == 1 and not Membership.objects.exists()
