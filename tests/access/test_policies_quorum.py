"""A group that needs several approvals: each approval is a decision, the last one grants."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    access_request_reject,
)
from accessgroups.catalogue.services import access_group_update
from accessgroups.core.errors import Conflict, InvalidTransition
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    AuditEvent,
    Decision,
    Membership,
    RequestStatus,
)


@pytest.fixture
def two_of_three(make_group, sandbox, bob, erin, make_user):
    frank = make_user("frank")
    return make_group(
        "Prod", accounts=[sandbox], approvers=[bob, erin, frank], approvals_required=2
    )


@pytest.fixture
def pending(alice, two_of_three):
    return access_request_create(
        requester=alice, access_group=two_of_three, justification="incident 42"
    )


def test_the_request_stays_pending_until_the_last_approval(pending, bob, erin):
    assert pending.approvals_required == 2
    first = access_request_approve(access_request=pending, approver=bob, comment="ok")
    assert first.status == RequestStatus.PENDING
    assert first.membership is None and not Membership.objects.exists()
    assert first.approvals == 1
    event = AuditEvent.objects.get(action="request.approval_recorded")
    assert (
        event.actor == bob
        and event.data["approvals"] == 1
        and event.data["approvals_required"] == 2
    )

    second = access_request_approve(access_request=pending, approver=erin)
    assert second.status == RequestStatus.APPROVED
    assert second.membership.granted_by == erin
    assert Decision.objects.filter(request=pending, outcome="approve").count() == 2
    approved = AuditEvent.objects.get(action="request.approved")
    assert approved.data["approvals"] == 2 and approved.data["approvals_required"] == 2


def test_nobody_approves_twice(pending, bob):
    access_request_approve(access_request=pending, approver=bob)
    with pytest.raises(InvalidTransition, match="already approved"):
        access_request_approve(access_request=pending, approver=bob)
    assert Decision.objects.count() == 1


def test_one_rejection_rejects(pending, bob, erin):
    access_request_approve(access_request=pending, approver=bob)
    rejected = access_request_reject(access_request=pending, approver=erin, comment="not now")
    assert rejected.status == RequestStatus.REJECTED
    assert not Membership.objects.exists()


def test_the_requester_never_counts(make_group, bob, erin, dave):
    group = make_group("Pair", approvers=[bob, erin], approvals_required=2)
    own = access_request_create(requester=bob, access_group=group, justification="me")
    with pytest.raises(PermissionDenied):
        access_request_approve(access_request=own, approver=bob)
    access_request_approve(access_request=own, approver=erin)
    # An admin makes up the number the requester leaves short.
    done = access_request_approve(access_request=own, approver=dave)
    assert done.status == RequestStatus.APPROVED


def test_approvals_of_an_older_version_do_not_count(pending, bob, erin, dave, two_of_three):
    access_request_approve(access_request=pending, approver=bob, access_group_version=1)
    access_group_update(actor=dave, access_group=two_of_three, session_duration="PT2H")
    with pytest.raises(Conflict):
        access_request_approve(access_request=pending, approver=erin, access_group_version=1)
    still = access_request_approve(access_request=pending, approver=erin, access_group_version=2)
    assert still.status == RequestStatus.PENDING and still.approvals == 1
    # bob approves again what the group grants now.
    done = access_request_approve(access_request=pending, approver=bob, access_group_version=2)
    assert done.status == RequestStatus.APPROVED
    assert list(Decision.objects.values_list("decided_by__username", "access_group_version")) == [
        ("bob", 1),
        ("erin", 2),
        ("bob", 2),
    ]


def test_a_raised_quorum_applies_to_pending_requests_a_lowered_one_does_not(
    pending, bob, erin, dave
):
    AccessGroup.objects.filter(pk=pending.access_group_id).update(approvals_required=3)
    access_request_approve(access_request=pending, approver=bob)
    second = access_request_approve(access_request=pending, approver=erin)
    assert second.status == RequestStatus.PENDING and second.approvals_required == 3
    AccessGroup.objects.filter(pk=pending.access_group_id).update(approvals_required=1)
    assert (
        access_request_approve(access_request=pending, approver=dave).status
        == RequestStatus.APPROVED
    )


def test_quorum_above_the_possible_approvers_is_refused(dave, developers, erin):
    with pytest.raises(ValidationError) as refused:
        access_group_update(actor=dave, access_group=developers, approvals_required=2)
    assert "approvals_required" in refused.value.message_dict
    assert "only 1 possible approver" in refused.value.message_dict["approvals_required"][0]
    group = access_group_update(
        actor=dave, access_group=developers, approvers=["bob", "erin"], approvals_required=2
    )
    assert group.approvals_required == 2
    # Naming fewer approvers than the quorum is refused too, and changes nothing.
    with pytest.raises(ValidationError):
        access_group_update(actor=dave, access_group=developers, approvers=["bob"])
    assert sorted(developers.approvers.values_list("username", flat=True)) == ["bob", "erin"]


def test_quorum_bounds(dave, developers):
    for bad in (0, 6, "2", True):
        with pytest.raises(ValidationError) as refused:
            access_group_update(actor=dave, access_group=developers, approvals_required=bad)
        assert "approvals_required" in refused.value.message_dict


def test_policy_changes_are_audited_and_do_not_bump_the_version(dave, developers, erin):
    version = developers.version
    group = access_group_update(
        actor=dave,
        access_group=developers,
        approvers=["bob", "erin"],
        approvals_required=2,
        risk="normal",
    )
    event = AuditEvent.objects.filter(action="access_group.updated").latest("sequence")
    assert event.data["approvals_required"] == {"from": 1, "to": 2}
    assert event.data["risk"] == {"from": "high", "to": "normal"}
    # The approvers changed (versioned); the policies alone would not.
    assert group.version == version + 1
    group = access_group_update(
        actor=dave, access_group=group, approvals_required=1, break_glass=True
    )
    assert group.version == version + 1
    event = AuditEvent.objects.filter(action="access_group.updated").latest("sequence")
    assert event.data == {
        "approvals_required": {"from": 2, "to": 1},
        "break_glass": {"from": False, "to": True},
    }


def test_an_unrelated_change_is_not_refused_for_a_quorum_gone_short(dave, developers, erin):
    group = access_group_update(
        actor=dave, access_group=developers, approvers=["bob", "erin"], approvals_required=2
    )
    erin.is_active = False
    erin.save()
    group = access_group_update(actor=dave, access_group=group, description="Still builds things")
    assert group.description == "Still builds things"
    with pytest.raises(ValidationError):
        access_group_update(actor=dave, access_group=group, approvals_required=2)


# --- a quorum left short -----------------------------------------------------------------


def test_deactivating_an_approver_who_leaves_a_quorum_short_is_audited_and_shown(
    make_user, make_group, dave, client_for
):
    from django.urls import reverse

    from accessgroups.identity.services import user_deactivate
    from accessgroups.models import AuditEvent

    ann, ben = make_user("ann"), make_user("ben")
    pair = make_group("Pair", approvers=[ann, ben], approvals_required=2)
    make_group("Single", approvers=[ann, ben])

    user_deactivate(user=ben, actor=dave)

    event = AuditEvent.objects.get(action="access_group.quorum_short")
    assert event.access_group == pair
    assert event.data == {"approvals_required": 2, "possible_approvers": 1, "left": "ben"}
    assert AuditEvent.objects.get(action="user.deactivated").data == {"quorum_short": ["Pair"]}
    page = client_for(dave).get(reverse("web:manage-group-detail", args=[pair.pk])).content.decode()
    assert "requires 2 approvals but has 1 possible approver too few" in page


def test_the_deactivation_page_warns_of_a_quorum_left_short(
    make_user, make_group, dave, client_for
):
    from django.urls import reverse

    ann, ben = make_user("ann"), make_user("ben")
    make_group("Pair", approvers=[ann, ben], approvals_required=2)
    response = client_for(dave).post(
        reverse("web:manage-user-deactivate", args=[ben.pk]), follow=True
    )
    assert (
        "Pair now has fewer possible approvers than approvals required" in response.content.decode()
    )


def test_a_deactivation_that_leaves_every_quorum_whole_audits_nothing_more(
    make_user, make_group, dave
):
    from accessgroups.identity.services import user_deactivate
    from accessgroups.models import AuditEvent

    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    make_group("Pair", approvers=[ann, ben, cat], approvals_required=2)
    user_deactivate(user=ben, actor=dave)
    assert not AuditEvent.objects.filter(action="access_group.quorum_short").exists()
    assert AuditEvent.objects.get(action="user.deactivated").data in ({}, None)


def test_the_queue_counts_in_sql_what_the_property_counts_of_the_decisions(
    bob, erin, make_user, make_group, sandbox, django_assert_num_queries
):
    frank = make_user("frank")
    group = make_group("Counted", accounts=[sandbox], approvers=[bob, erin, frank])
    AccessGroup.objects.filter(pk=group.pk).update(version=3)
    asked = [
        access_request_create(
            requester=make_user(f"asker{n}"), access_group=group, justification=str(n)
        )
        for n in range(6)
    ]
    decisions = [
        # (request, who, outcome, version): none for asked[0].
        (1, bob, "approve", 3),
        (2, bob, "approve", 2),  # an approval of what the group granted before: not counted
        (2, erin, "approve", 3),
        (3, bob, "approve", 3),
        (3, erin, "approve", 3),
        (3, frank, "approve", 2),
        (3, bob, "approve", 1),  # the same person, an older version
        (4, None, "auto", 3),  # an automatic approval counts once
        (4, erin, "approve", 3),
        (5, bob, "reject", 3),
    ]
    for index, who, outcome, version in decisions:
        Decision.objects.create(
            request=asked[index],
            requester=asked[index].requester,
            decided_by=who,
            outcome=outcome,
            access_group_version=version,
        )
    prefetched = {
        r.pk: r.approvals
        for r in AccessRequest.objects.filter(pk__in=[r.pk for r in asked])
        .select_related("access_group")
        .prefetch_related("decisions")
    }
    assert [prefetched[r.pk] for r in asked] == [0, 1, 1, 2, 2, 0]
    counted = list(
        AccessRequest.objects.filter(pk__in=[r.pk for r in asked]).with_pending_approvals()
    )
    with django_assert_num_queries(0):  # no decisions read
        assert {r.pk: r.approvals for r in counted} == prefetched
    # Once decided, every approval counts, whatever version: the count is not used.
    AccessRequest.objects.filter(pk=asked[2].pk).update(status=RequestStatus.APPROVED)
    decided = AccessRequest.objects.with_pending_approvals().get(pk=asked[2].pk)
    assert decided.counted_approvals == 1 and decided.approvals == 2
