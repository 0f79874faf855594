"""Memberships as identity store group memberships, through the real workflow."""

from __future__ import annotations

import pytest

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_grant,
    membership_revoke,
)
from accessgroups.identity.services import user_deactivate
from accessgroups.models import (
    AccessRequest,
    AuditEvent,
    Membership,
    ProvisioningStatus,
    RequestStatus,
    User,
)
from provisioning import aws, tasks
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group(ic, aws_calls, make_group, make_account, bob):
    """A provisioned access group that bob approves (its calls are not the test's)."""
    g = make_group("ReadOnly", accounts=[make_account("sandbox")], approvers=[bob])
    run_task(tasks.access_group_sync_task, g.pk)
    g.refresh_from_db()
    assert g.identity_center_group_id
    aws_calls.clear()
    return g


def approved_request(user, group, approver):
    request = access_request_create(requester=user, access_group=group, justification="on call")
    return access_request_approve(access_request=request, approver=approver)


def test_approved_request_becomes_a_group_membership_and_active(
    ic, aws_calls, group, alice, bob, enqueued
):
    request = approved_request(alice, group, bob)
    membership = request.membership
    assert ("membership_sync_task", (membership.pk,)) in enqueued

    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"

    membership.refresh_from_db()
    alice.refresh_from_db()
    request.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.IN_SYNC
    assert membership.activated_at is not None
    assert request.status == RequestStatus.ACTIVE
    # alice had no Identity Center id yet: she was onboarded on the way, and her row says so.
    assert alice.identity_center_user_id == ic.user_id("alice")
    assert alice.provisioning_status == ProvisioningStatus.IN_SYNC
    assert alice.onboarding_requested
    assert ic.members(group.identity_center_group_id) == [alice.identity_center_user_id]
    assert membership.identity_center_membership_id
    event = AuditEvent.objects.get(action="identity_center.CreateGroupMembership")
    assert (event.object_id, event.subject_id, event.access_group_id) == (
        str(membership.pk),
        alice.pk,
        group.pk,
    )
    assert event.data["MembershipId"] == membership.identity_center_membership_id


def test_granting_costs_two_calls_when_ids_are_stored(ic, aws_calls, group, alice, dave):
    run_task(tasks.user_onboard_task, alice.pk)
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    aws.instance()  # discovered once per process, not per grant
    aws_calls.clear()

    run_task(tasks.membership_sync_task, membership.pk)

    assert aws_calls.operations() == ["GetGroupMembershipId", "CreateGroupMembership"]


def test_rerun_after_success_makes_no_aws_call(ic, aws_calls, group, alice, dave):
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    run_task(tasks.membership_sync_task, membership.pk)
    aws_calls.clear()

    assert run_task(tasks.membership_sync_task, membership.pk) == "skipped"

    assert aws_calls.calls == []


def test_existing_membership_is_found_not_duplicated(ic, aws_calls, group, alice, dave):
    run_task(tasks.user_onboard_task, alice.pk)
    alice.refresh_from_db()
    ic.add_member(group.identity_center_group_id, alice.identity_center_user_id)
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    aws_calls.clear()

    run_task(tasks.membership_sync_task, membership.pk)

    assert aws_calls.writes() == []
    assert ic.members(group.identity_center_group_id) == [alice.identity_center_user_id]
    membership.refresh_from_db()
    assert membership.activated_at is not None


def test_revoking_removes_the_group_membership(ic, aws_calls, group, alice, dave, enqueued):
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    run_task(tasks.membership_sync_task, membership.pk)
    enqueued.clear()
    aws_calls.clear()

    membership_revoke(membership=membership, revoked_by=dave)
    # And the group's, which denies the sessions she still holds (test_session_revocation.py).
    assert enqueued == [
        ("membership_sync_task", (membership.pk,)),
        ("access_group_sync_task", (group.pk,)),
    ]
    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"

    assert ic.members(group.identity_center_group_id) == []
    assert aws_calls.writes() == ["DeleteGroupMembership"]
    membership.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.IN_SYNC
    assert membership.identity_center_membership_id == ""
    event = AuditEvent.objects.get(action="identity_center.DeleteGroupMembership")
    assert event.object_id == str(membership.pk)


def test_revoking_removes_duplicates_made_outside_the_portal(ic, group, alice, dave):
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    run_task(tasks.membership_sync_task, membership.pk)
    alice.refresh_from_db()
    ic.add_member(
        group.identity_center_group_id, alice.identity_center_user_id
    )  # the emulator allows it
    assert len(ic.members(group.identity_center_group_id)) == 2

    membership_revoke(membership=membership, revoked_by=dave)
    run_task(tasks.membership_sync_task, membership.pk)

    assert ic.members(group.identity_center_group_id) == []


def test_ended_membership_covered_by_an_active_one_stays(ic, aws_calls, group, alice, dave):
    first = membership_grant(user=alice, access_group=group, granted_by=dave, justification="first")
    run_task(tasks.membership_sync_task, first.pk)
    membership_revoke(membership=first, revoked_by=dave)
    second = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="second"
    )
    aws_calls.clear()

    assert run_task(tasks.membership_sync_task, first.pk) == "in_sync"
    assert aws_calls.calls == []
    assert run_task(tasks.membership_sync_task, second.pk) == "in_sync"

    alice.refresh_from_db()
    assert ic.members(group.identity_center_group_id) == [alice.identity_center_user_id]
    assert aws_calls.writes() == []
    second.refresh_from_db()
    assert second.identity_center_membership_id and second.activated_at is not None


def test_deactivated_user_loses_the_membership(ic, group, alice, dave):
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    run_task(tasks.membership_sync_task, membership.pk)

    user_deactivate(user=alice, actor=dave)
    run_task(tasks.membership_sync_task, membership.pk)

    assert ic.members(group.identity_center_group_id) == []


def test_group_not_provisioned_yet_is_waited_for(ic, aws_calls, make_group, alice, dave):
    from provisioning.errors import TransientError

    unprovisioned = make_group("Later")
    membership = membership_grant(
        user=alice, access_group=unprovisioned, granted_by=dave, justification="x"
    )

    with pytest.raises(TransientError):
        tasks.membership_sync_task.run(membership.pk)

    membership.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert (
        membership.last_error
        == "Waiting for the access group Later to be provisioned in Identity Center."
    )
    assert "CreateGroupMembership" not in aws_calls.operations()


def test_user_who_cannot_be_onboarded_fails_the_request_with_words(
    ic, aws_calls, group, make_user, bob
):
    frank = make_user("frank", given_name="")
    request = approved_request(frank, group, bob)

    assert run_task(tasks.membership_sync_task, request.membership_id) == "failed"

    membership = Membership.objects.get(pk=request.membership_id)
    request.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.FAILED
    assert "given name is missing" in membership.last_error
    assert request.status == RequestStatus.FAILED
    assert request.last_error == membership.last_error
    assert aws_calls.writes() == []


def test_stale_user_id_is_healed_once_and_membership_made(ic, aws_calls, group, alice, dave):
    run_task(tasks.user_onboard_task, alice.pk)
    alice.refresh_from_db()
    old = alice.identity_center_user_id
    ic.delete_user(old)
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )

    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"

    alice.refresh_from_db()
    assert alice.identity_center_user_id not in ("", old)
    assert ic.members(group.identity_center_group_id) == [alice.identity_center_user_id]
    drift = AuditEvent.objects.get(action="provisioning.drift")
    assert drift.data == {"what": "user", "old_id": old, "new_id": alice.identity_center_user_id}


def test_stale_group_id_with_group_gone_asks_for_the_group_again(ic, group, alice, dave, enqueued):
    from provisioning.errors import TransientError

    run_task(tasks.user_onboard_task, alice.pk)
    ic.delete_group(group.identity_center_group_id)
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    enqueued.clear()

    with pytest.raises(TransientError):
        tasks.membership_sync_task.run(membership.pk)

    group.refresh_from_db()
    assert group.identity_center_group_id == ""
    assert group.provisioning_status == ProvisioningStatus.PENDING
    assert ("access_group_sync_task", (group.pk,)) in enqueued
    assert AuditEvent.objects.filter(action="provisioning.drift", data__what="group").count() == 1

    # The group is made again, then the membership goes through.
    run_task(tasks.access_group_sync_task, group.pk)
    run_task(tasks.membership_sync_task, membership.pk)
    group.refresh_from_db()
    alice.refresh_from_db()
    assert ic.members(group.identity_center_group_id) == [alice.identity_center_user_id]


def test_membership_changed_while_provisioning_is_run_again(
    ic, group, alice, dave, register, enqueued
):
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="audit"
    )
    enqueued.clear()

    def revoke_meanwhile(**_):
        # The workflow ends the membership while the worker is between its calls.
        Membership.objects.filter(pk=membership.pk).update(generation=membership.generation + 1)

    register("before-send.identitystore.CreateGroupMembership", revoke_meanwhile)
    assert run_task(tasks.membership_sync_task, membership.pk) == "changed"

    membership.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert enqueued == [("membership_sync_task", (membership.pk,))]


def test_request_is_active_only_after_the_membership_exists(ic, group, alice, bob, register):
    request = approved_request(alice, group, bob)
    seen = []

    def look(**_):
        seen.append(AccessRequest.objects.get(pk=request.pk).status)

    register("before-send.identitystore.CreateGroupMembership", look)
    run_task(tasks.membership_sync_task, request.membership_id)

    assert seen == [RequestStatus.PROVISIONING]
    request.refresh_from_db()
    assert request.status == RequestStatus.ACTIVE
    assert User.objects.get(pk=alice.pk).identity_center_user_id
