"""The refresh of Identity Center groups against moto in-process: every group listed, the
members of the groups access groups name read in pages of 100, a member removed between two
refreshes, a group deleted, and a failure that keeps the previous cache."""

from __future__ import annotations

import math

import pytest

from accessgroups.core import roles
from accessgroups.models import GroupSync, IdentityCenterGroup
from provisioning import directory, tasks
from tests.provisioning.conftest import aws_error_response, run_task

pytestmark = pytest.mark.django_db


def _group(ic, name: str) -> str:
    return ic.ids.create_group(IdentityStoreId=ic.store, DisplayName=name)["GroupId"]


def _cached(name: str) -> IdentityCenterGroup:
    return IdentityCenterGroup.objects.present().get(display_name=name)


def test_first_refresh_lists_every_group_and_reads_no_members(ic, aws_calls):
    for name in ("Engineers", "Platform-Leads", "Finance"):
        _group(ic, name)
    run = directory.group_sync()
    assert run.error == "" and run.groups == 3 and run.groups_read == 0
    assert sorted(IdentityCenterGroup.objects.values_list("display_name", flat=True)) == [
        "Engineers", "Finance", "Platform-Leads",
    ]
    assert aws_calls.operations() == ["ListInstances", "ListGroups"]
    assert aws_calls.named("ListGroups")[0]["MaxResults"] == 100


def test_members_of_named_groups_are_read_in_full_pages(ic, aws_calls, make_group, make_user):
    leads = _group(ic, "Platform-Leads")
    _group(ic, "Unused")
    user_ids = [ic.create_user(f"user{n:03d}@example.com") for n in range(250)]
    memberships = [ic.add_member(leads, user_id) for user_id in user_ids]
    directory.group_sync()
    prod = make_group("Prod")
    prod.approver_groups.set([_cached("Platform-Leads")])
    bob = make_user("bob", identity_center_user_id=user_ids[-1])
    aws_calls.clear()

    run = directory.group_sync()

    assert run.groups_read == 1 and run.members == 250
    # 250 members: three pages, the fewest that can hold them; the unused group is not read.
    assert aws_calls.count("ListGroupMemberships") == math.ceil(250 / 100)
    assert {p["GroupId"] for p in aws_calls.named("ListGroupMemberships")} == {leads}
    assert aws_calls.writes() == []
    assert run.calls == aws_calls.count("ListGroups") + 3
    assert _cached("Platform-Leads").member_count == 250
    assert roles.entitled_by(bob, prod) == {"approver": "group", "group": "Platform-Leads"}

    # The IdP drops 150 of them, bob among them: one refresh later they are gone.
    for membership in memberships[100:]:
        ic.ids.delete_group_membership(IdentityStoreId=ic.store, MembershipId=membership)
    assert directory.group_sync().members == 100
    assert _cached("Platform-Leads").members.count() == 100
    assert roles.entitled_by(bob, prod) is None


def test_a_member_removed_in_the_idp_stops_approving_at_the_next_refresh(ic, make_group, make_user):
    leads = _group(ic, "Platform-Leads")
    erin_id = ic.create_user("erin@example.com")
    membership = ic.add_member(leads, erin_id)
    directory.group_sync()
    prod = make_group("Prod")
    prod.approver_groups.set([_cached("Platform-Leads")])
    erin = make_user("erin", identity_center_user_id=erin_id)
    directory.group_sync()
    assert roles.is_approver(erin, prod)

    ic.ids.delete_group_membership(IdentityStoreId=ic.store, MembershipId=membership)
    assert roles.is_approver(erin, prod), "nothing changes before the refresh"
    directory.group_sync()
    assert not roles.is_approver(erin, prod)
    assert _cached("Platform-Leads").member_count == 0


def test_a_deleted_group_loses_its_members_and_stays_named(ic, make_group, make_user):
    leads = _group(ic, "Platform-Leads")
    erin_id = ic.create_user("erin@example.com")
    ic.add_member(leads, erin_id)
    directory.group_sync()
    prod = make_group("Prod")
    prod.approver_groups.set([_cached("Platform-Leads")])
    erin = make_user("erin", identity_center_user_id=erin_id)
    directory.group_sync()

    ic.delete_group(leads)
    directory.group_sync()

    row = IdentityCenterGroup.objects.get(group_id=leads)
    assert row.removed_at is not None and row.members.count() == 0
    assert list(prod.approver_groups.all()) == [row]
    assert not roles.is_approver(erin, prod)
    # A new group may take the name; it is another group, not the one prod named.
    _group(ic, "Platform-Leads")
    directory.group_sync()
    assert _cached("Platform-Leads").group_id != leads


def test_a_failed_refresh_keeps_the_cache_and_says_why(ic, register, make_group, make_user):
    leads = _group(ic, "Platform-Leads")
    erin_id = ic.create_user("erin@example.com")
    ic.add_member(leads, erin_id)
    directory.group_sync()
    prod = make_group("Prod")
    prod.approver_groups.set([_cached("Platform-Leads")])
    erin = make_user("erin", identity_center_user_id=erin_id)
    directory.group_sync()

    register(
        "before-send.identitystore.ListGroupMemberships",
        lambda **_: aws_error_response("AccessDeniedException", 400, "not allowed"),
    )
    assert run_task(tasks.group_sync_task) == "failed"

    run = GroupSync.objects.first()
    assert "ListGroupMemberships" in run.error and not run.running
    assert roles.is_approver(erin, prod), "the previous members still count"
    assert _cached("Platform-Leads").member_count == 1


def test_one_refresh_at_a_time(ic):
    from accessgroups.directory.services import group_sync_claim

    assert group_sync_claim() is not None
    assert directory.group_sync() is None
    assert run_task(tasks.group_sync_task) == "skipped"
