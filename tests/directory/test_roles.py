"""Approvers and eligibility by Identity Center group, with real rows: who approves, who may
request, how a decider is entitled, and what each refuses."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.core import roles
from accessgroups.models import AccessGroup, AccessRequest, AuditEvent, IdentityCenterGroupMember

pytestmark = pytest.mark.django_db

LEADS = {"approver": "group", "group": "Platform-Leads"}


@pytest.fixture
def leads(ic_group, linked, erin):
    """Platform-Leads: erin is in it (through Identity Center, not by name)."""
    return ic_group("Platform-Leads", members=[linked(erin)])


@pytest.fixture
def prod(make_group, sandbox, leads):
    group = make_group("Prod", accounts=[sandbox])
    group.approver_groups.set([leads])
    return group


def test_a_member_of_an_approver_group_is_an_approver(prod, erin, bob):
    assert roles.is_approver(erin, prod)
    assert roles.can_decide(erin, prod)
    assert roles.entitled_by(erin, prod) == LEADS
    assert not roles.is_approver(bob, prod)
    assert roles.decides_anything(erin)
    assert not roles.decides_anything(bob)


def test_named_wins_over_a_group_and_a_group_over_the_admin_role(prod, erin, dave, linked):
    prod.approvers.add(erin)
    assert roles.entitled_by(erin, prod) == {"approver": "named"}
    assert roles.entitled_by(dave, prod) == {"approver": "admin"}
    assert not roles.is_approver(dave, prod)


def test_an_inactive_member_decides_nothing(prod, erin):
    erin.is_active = False
    erin.save()
    assert roles.entitled_by(erin, prod) is None
    assert not roles.can_decide(erin, prod)


def test_a_user_without_an_identity_center_id_is_in_no_group(prod, alice, leads):
    # Even a member row with an empty id must not match a user who was never onboarded.
    IdentityCenterGroupMember.objects.create(group=leads, user_id="x")
    assert alice.identity_center_user_id == ""
    assert not roles.is_approver(alice, prod)


def test_approvers_of_lists_named_and_group_members_once(prod, erin, bob):
    prod.approvers.add(bob, erin)
    assert list(roles.approvers_of(prod).order_by("username")) == [bob, erin]
    assert roles.approvers_by_group([prod.pk]) == {prod.pk: [bob, erin]}


def test_approvers_by_group_costs_three_queries_whatever_the_groups(
    make_group, ic_group, linked, make_user, django_assert_num_queries
):
    groups = []
    for n in range(5):
        members = [linked(make_user(f"member{n}{k}")) for k in range(3)]
        group = make_group(f"G{n}", approvers=[make_user(f"named{n}")])
        group.approver_groups.set([ic_group(f"IC{n}", members=members)])
        groups.append(group)
    with django_assert_num_queries(3):
        found = roles.approvers_by_group([g.pk for g in groups])
    assert all(len(found[g.pk]) == 4 for g in groups)


def test_the_queue_and_visibility_follow_the_group(prod, alice, erin, bob):
    request = access_request_create(requester=alice, access_group=prod, justification="deploy")
    assert list(AccessRequest.objects.decidable_by(erin)) == [request]
    assert list(AccessRequest.objects.visible_to(erin)) == [request]
    assert list(AccessRequest.objects.decidable_by(bob)) == []


def test_approval_by_a_group_member_records_the_group(prod, alice, erin):
    request = access_request_create(requester=alice, access_group=prod, justification="deploy")
    access_request_approve(access_request=request, approver=erin)
    event = AuditEvent.objects.get(action="request.approved")
    assert event.data["entitled_by"] == LEADS


def test_approval_by_name_records_named(readonly, alice, bob):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    access_request_approve(access_request=request, approver=bob)
    assert AuditEvent.objects.get(action="request.approved").data["entitled_by"] == {"approver": "named"}


def test_a_group_member_cannot_approve_their_own_request(prod, erin):
    request = access_request_create(requester=erin, access_group=prod, justification="me")
    with pytest.raises(PermissionDenied, match="their own access"):
        access_request_approve(access_request=request, approver=erin)
    request.refresh_from_db()
    assert request.status == "pending"


def test_removal_from_the_approver_group_takes_effect_once_the_cache_says_so(
    prod, alice, erin, leads
):
    request = access_request_create(requester=alice, access_group=prod, justification="deploy")
    leads.members.filter(user_id=erin.identity_center_user_id).delete()  # the next refresh
    with pytest.raises(PermissionDenied):
        access_request_approve(access_request=request, approver=erin)


# --- eligibility -----------------------------------------------------------------------------


@pytest.fixture
def engineers(ic_group, linked, alice):
    return ic_group("Engineers", members=[linked(alice)])


def test_no_eligible_group_means_everyone(readonly, alice, bob):
    assert roles.eligibility_refusal(alice, readonly) is None
    assert list(AccessGroup.objects.requestable_by(bob)) == [readonly]


def test_only_members_of_an_eligible_group_may_request(readonly, engineers, alice, carol):
    readonly.eligible_groups.set([engineers])
    assert roles.eligibility_refusal(alice, readonly) is None
    refusal = roles.eligibility_refusal(carol, readonly)
    assert "Engineers" in refusal and "ReadOnly" in refusal
    assert list(AccessGroup.objects.requestable_by(alice)) == [readonly]
    assert list(AccessGroup.objects.requestable_by(carol)) == []
    with pytest.raises(PermissionDenied, match="Engineers"):
        access_request_create(requester=carol, access_group=readonly, justification="x")
    assert not AccessRequest.objects.exists()
    access_request_create(requester=alice, access_group=readonly, justification="x")


def test_a_member_of_any_one_eligible_group_may_request(
    readonly, engineers, ic_group, linked, carol
):
    readonly.eligible_groups.set([engineers, ic_group("Auditors", members=[linked(carol)])])
    assert list(AccessGroup.objects.requestable_by(carol)) == [readonly]


def test_a_group_named_like_a_kind_of_entitlement_is_still_a_group(
    make_group, ic_group, linked, erin
):
    group = make_group("Odd")
    group.approver_groups.set([ic_group("admin", members=[linked(erin)])])
    assert roles.entitled_by(erin, group) == {"approver": "group", "group": "admin"}
    assert roles.is_approver(erin, group)


def test_a_new_request_is_mailed_to_the_group_members_too(prod, alice, erin, bob):
    from accessgroups.mail.services import request_submitted_recipients

    prod.approvers.add(bob)
    request = access_request_create(requester=alice, access_group=prod, justification="x")
    assert request_submitted_recipients(request) == [bob, erin]


def test_a_reviewer_can_come_from_an_approver_group(prod, alice, erin, carol, grant, in_a_week):
    from accessgroups.reviews.services import access_review_open

    grant(alice, prod)
    review = access_review_open(opened_by=carol, deadline=in_a_week, access_group=prod)
    assert [item.reviewer for item in review.items.all()] == [erin]


def test_a_requester_no_longer_eligible_cannot_be_approved(readonly, engineers, alice, bob):
    from accessgroups.core.errors import Conflict

    readonly.eligible_groups.set([engineers])
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    engineers.members.all().delete()  # the next refresh, after the IdP removed her
    with pytest.raises(Conflict, match="No longer eligible"):
        access_request_approve(access_request=request, approver=bob)
    request.refresh_from_db()
    assert request.status == "pending"
    assert not AuditEvent.objects.filter(action="request.approved").exists()
