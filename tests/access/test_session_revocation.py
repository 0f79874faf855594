"""Ending access ends the sessions too: a deny on the person's identity store user id in the
group's permission set, pushed to its accounts, lifted once those sessions have run out."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accessgroups.access.services import membership_grant, membership_revoke, memberships_expire
from accessgroups.access.sessions import session_revocations_lift
from accessgroups.access.tasks import session_revocations_lift_task
from accessgroups.catalogue.services import access_group_archive
from accessgroups.core.validators import inline_policy_fits, validate_inline_policy
from accessgroups.identity.services import user_deactivate
from accessgroups.models import (
    AccessGroup,
    AccessGroupPolicy,
    AuditEvent,
    LiftReason,
    Membership,
    PolicyKind,
    SessionRevocation,
)
from provisioning import tasks
from provisioning.inline_policies import inline_policy_plan, wanted_inline_policy
from tests.provisioning.conftest import aws_calls, enqueued, ic, run_task  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

SID = "PortalRevokedSessions"
OWN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
}
GROUP_SYNC = "access_group_sync_task"


def deny(*user_ids: str) -> dict:
    return {
        "Sid": SID,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"identitystore:userId": sorted(user_ids)}},
    }


def sync_group(group: AccessGroup) -> str:
    result = run_task(tasks.access_group_sync_task, group.pk)
    group.refresh_from_db()
    return result


def sync_membership(membership: Membership) -> str:
    result = run_task(tasks.membership_sync_task, membership.pk)
    membership.refresh_from_db()
    return result


@pytest.fixture
def group(ic, aws_calls, make_group, make_account, bob):
    """A provisioned group with its own inline policy, assigned to one account."""
    g = make_group("Developers", accounts=[make_account("sandbox")], approvers=[bob])
    AccessGroupPolicy.objects.create(access_group=g, kind=PolicyKind.INLINE, document=OWN)
    assert sync_group(g) == "in_sync"
    aws_calls.clear()
    return g


@pytest.fixture
def member(ic, dave):
    """member(user, group) -> an active membership, confirmed by Identity Center."""

    def make(user, group) -> Membership:
        membership = membership_grant(
            user=user, access_group=group, granted_by=dave, justification="on call"
        )
        assert sync_membership(membership) == "in_sync"
        assert membership.activated_at is not None
        user.refresh_from_db()
        return membership

    return make


def test_revoking_denies_running_sessions_until_the_session_duration_has_passed(
    ic, aws_calls, enqueued, group, member, alice, dave
):
    # A session duration of one second (no real group has one; AWS's least is an hour).
    AccessGroup.objects.filter(pk=group.pk).update(session_duration="PT1S")
    group.refresh_from_db()
    membership = member(alice, group)
    sync_group(group)
    aws_calls.clear()
    enqueued.clear()

    membership_revoke(membership=membership, revoked_by=dave, comment="left the team")

    revocation = SessionRevocation.objects.get()
    assert (revocation.user, revocation.access_group, revocation.membership) == (
        alice,
        group,
        membership,
    )
    assert revocation.identity_center_user_id == alice.identity_center_user_id
    membership.refresh_from_db()
    assert revocation.created_at == membership.ended_at
    assert revocation.lift_after == membership.ended_at + timedelta(seconds=1)
    assert ("membership_sync_task", (membership.pk,)) in enqueued
    assert (GROUP_SYNC, (group.pk,)) in enqueued

    assert sync_membership(membership) == "in_sync"
    assert sync_group(group) == "in_sync"

    policy = ic.permission_set(group.permission_set_arn)["inline"]
    assert policy == {**OWN, "Statement": [*OWN["Statement"], deny(alice.identity_center_user_id)]}
    assert aws_calls.named("ProvisionPermissionSet") == [
        {
            "InstanceArn": ic.instance_arn,
            "PermissionSetArn": group.permission_set_arn,
            "TargetType": "ALL_PROVISIONED_ACCOUNTS",
        }
    ]
    event = AuditEvent.objects.get(action="session.revoked")
    assert (event.actor, event.subject, event.access_group) == (dave, alice, group)
    assert event.object_id == str(revocation.pk)
    assert event.data["end_reason"] == "revoked"
    assert event.data["identity_center_user_id"] == alice.identity_center_user_id

    # Nothing lifts before the sessions can have run out.
    assert session_revocations_lift(now=revocation.created_at) == 0
    time.sleep(1.1)
    aws_calls.clear()
    enqueued.clear()

    assert run_task(session_revocations_lift_task) == 1

    revocation.refresh_from_db()
    assert revocation.lifted_at is not None
    assert revocation.lift_reason == LiftReason.SESSIONS_ENDED
    assert enqueued == [(GROUP_SYNC, (group.pk,))]
    assert sync_group(group) == "in_sync"
    assert ic.permission_set(group.permission_set_arn)["inline"] == OWN
    assert aws_calls.count("PutInlinePolicyToPermissionSet") == 1
    assert aws_calls.count("ProvisionPermissionSet") == 1
    lifted = AuditEvent.objects.get(action="session.revocation_lifted")
    assert (lifted.subject, lifted.access_group) == (alice, group)
    assert lifted.data["reason"] == "sessions_ended"


def test_several_people_share_one_statement(ic, group, member, alice, erin, dave):
    first, second = member(alice, group), member(erin, group)
    membership_revoke(membership=first, revoked_by=dave)
    # Sessions of the group last two hours from now on: erin's may run an hour longer.
    AccessGroup.objects.filter(pk=group.pk).update(session_duration="PT2H")
    membership_revoke(membership=second, revoked_by=dave)
    for membership in (first, second):
        sync_membership(membership)
    sync_group(group)

    policy = ic.permission_set(group.permission_set_arn)["inline"]
    assert policy["Statement"] == [
        *OWN["Statement"],
        deny(alice.identity_center_user_id, erin.identity_center_user_id),
    ]

    # An hour on, alice's sessions have run out and erin's may not have.
    assert session_revocations_lift(now=timezone.now() + timedelta(hours=1, minutes=1)) == 1
    sync_group(group)

    policy = ic.permission_set(group.permission_set_arn)["inline"]
    assert policy["Statement"] == [*OWN["Statement"], deny(erin.identity_center_user_id)]
    assert SessionRevocation.objects.get(lifted_at__isnull=True).user == erin


def test_a_group_without_an_inline_policy_gets_one_and_loses_it(
    ic, aws_calls, make_group, make_account, member, alice, dave
):
    group = make_group("Operators", accounts=[make_account("ops")])
    sync_group(group)
    membership = member(alice, group)
    membership_revoke(membership=membership, revoked_by=dave)
    sync_membership(membership)
    sync_group(group)
    assert ic.permission_set(group.permission_set_arn)["inline"] == {
        "Version": "2012-10-17",
        "Statement": [deny(alice.identity_center_user_id)],
    }
    revocation = SessionRevocation.objects.get()
    aws_calls.clear()

    assert session_revocations_lift(now=revocation.lift_after + timedelta(seconds=1)) == 1
    sync_group(group)

    assert ic.permission_set(group.permission_set_arn)["inline"] is None
    assert aws_calls.count("DeleteInlinePolicyFromPermissionSet") == 1
    assert aws_calls.count("ProvisionPermissionSet") == 1


def test_revoke_sessions_off_revokes_none_and_lifts_what_is_left(
    ic, enqueued, settings, group, member, alice, erin, dave
):
    first = member(alice, group)
    membership_revoke(membership=first, revoked_by=dave)
    settings.REVOKE_SESSIONS = False
    second = member(erin, group)
    enqueued.clear()

    membership_revoke(membership=second, revoked_by=dave)

    assert SessionRevocation.objects.filter(user=erin).count() == 0
    assert enqueued == [("membership_sync_task", (second.pk,))]
    sync_membership(first)
    revocation = SessionRevocation.objects.get(user=alice)
    assert session_revocations_lift(now=revocation.lift_after + timedelta(seconds=1)) == 1


def test_access_granted_again_lifts_the_revocation_at_once(
    ic, aws_calls, enqueued, group, member, alice, dave
):
    membership = member(alice, group)
    membership_revoke(membership=membership, revoked_by=dave)
    sync_membership(membership)
    sync_group(group)
    enqueued.clear()

    again = member(alice, group)  # confirmed by Identity Center: membership_activated

    revocation = SessionRevocation.objects.get()
    assert revocation.lifted_at is not None
    assert revocation.lift_reason == LiftReason.ACCESS_GRANTED_AGAIN
    assert (GROUP_SYNC, (group.pk,)) in enqueued
    event = AuditEvent.objects.get(action="session.revocation_lifted")
    assert event.data["reason"] == "access_granted_again"
    assert f"membership #{again.pk}" in event.message
    sync_group(group)
    assert ic.permission_set(group.permission_set_arn)["inline"] == OWN
    # Confirmed again later (a retry, a re-sync): nothing left to lift.
    enqueued.clear()
    Membership.objects.filter(pk=again.pk).update(provisioning_status="pending", generation=99)
    sync_membership(again)
    assert GROUP_SYNC not in [name for name, _ in enqueued]


def test_archiving_the_group_revokes_no_sessions(ic, enqueued, group, member, alice, dave):
    member(alice, group)

    access_group_archive(actor=dave, access_group=group)

    assert SessionRevocation.objects.count() == 0
    assert not AuditEvent.objects.filter(action="session.revoked").exists()


def test_someone_never_onboarded_has_no_sessions_to_revoke(ic, enqueued, group, alice, dave):
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="on call"
    )
    enqueued.clear()

    membership_revoke(membership=membership, revoked_by=dave)

    assert SessionRevocation.objects.count() == 0
    assert enqueued == [("membership_sync_task", (membership.pk,))]


def test_expiry_and_deactivation_revoke_sessions_too(
    ic, make_group, make_account, group, member, alice, erin, dave
):
    expiring = member(alice, group)
    Membership.objects.filter(pk=expiring.pk).update(expires_at=timezone.now())
    elsewhere = make_group("Operators", accounts=[make_account("ops")])
    sync_group(elsewhere)
    member(erin, group)
    member(erin, elsewhere)

    assert memberships_expire(now=timezone.now()) == 1
    user_deactivate(user=erin, actor=dave)

    revocations = SessionRevocation.objects.order_by("pk")
    assert {(r.user, r.access_group) for r in revocations} == {
        (alice, group),
        (erin, group),
        (erin, elsewhere),
    }
    reasons = [e.data["end_reason"] for e in AuditEvent.objects.filter(action="session.revoked")]
    assert reasons == ["expired", "deactivated", "deactivated"]
    assert revocations[0].membership == expiring


def test_a_revocation_stays_until_identity_center_confirmed_the_removal(
    ic, group, member, alice, dave
):
    membership = member(alice, group)
    membership_revoke(membership=membership, revoked_by=dave)
    revocation = SessionRevocation.objects.get()
    hour_after_end = revocation.lift_after + timedelta(seconds=1)

    # The removal has not run: alice may still be starting sessions.
    assert session_revocations_lift(now=hour_after_end) == 0

    # Confirmed ten minutes after the end (retries): sessions begun until then last an hour.
    sync_membership(membership)
    confirmed = membership.ended_at + timedelta(minutes=10)
    Membership.objects.filter(pk=membership.pk).update(provisioned_at=confirmed)
    assert session_revocations_lift(now=hour_after_end) == 0
    assert session_revocations_lift(now=confirmed + timedelta(hours=1)) == 1


def test_the_sweep_lifts_each_revocation_once(ic, enqueued, group, member, alice, dave):
    membership = member(alice, group)
    membership_revoke(membership=membership, revoked_by=dave)
    sync_membership(membership)
    later = timezone.now() + timedelta(hours=2)
    enqueued.clear()

    assert session_revocations_lift(now=later) == 1
    assert session_revocations_lift(now=later) == 0

    assert AuditEvent.objects.filter(action="session.revocation_lifted").count() == 1
    assert enqueued == [(GROUP_SYNC, (group.pk,))]


def test_a_lift_another_sweep_made_first_is_left_alone(ic, group, member, alice, dave, monkeypatch):
    membership = member(alice, group)
    membership_revoke(membership=membership, revoked_by=dave)
    sync_membership(membership)
    later = timezone.now() + timedelta(hours=2)
    real_is_due = SessionRevocation.is_due

    def lifted_meanwhile(self, now):
        # Another worker lifts it between this sweep's read and its update.
        SessionRevocation.objects.filter(pk=self.pk).update(
            lifted_at=now, lift_reason=LiftReason.SESSIONS_ENDED
        )
        return real_is_due(self, now)

    monkeypatch.setattr(SessionRevocation, "is_due", lifted_meanwhile)

    assert session_revocations_lift(now=later) == 0
    assert not AuditEvent.objects.filter(action="session.revocation_lifted").exists()


# --- the policy and its size -----------------------------------------------------------------


def identity_store_id() -> str:
    """An id shaped like the identity store's: ten hex digits, a dash, a UUID."""
    return f"{uuid.uuid4().hex[:10]}-{uuid.uuid4()}"


def test_a_group_statement_given_as_an_object_is_kept_and_not_changed(
    make_group, alice, make_account
):
    one_statement = {"Version": "2012-10-17", "Statement": OWN["Statement"][0]}
    group = make_group("Auditors", accounts=[make_account("audit")])
    policy = AccessGroupPolicy.objects.create(
        access_group=group, kind=PolicyKind.INLINE, document=json.loads(json.dumps(one_statement))
    )
    SessionRevocation.objects.create(
        access_group=group,
        user=alice,
        identity_center_user_id="a-1",
        lift_after=timezone.now() + timedelta(hours=1),
    )
    policies = list(group.current_policies())

    wanted = wanted_inline_policy(group, policies)

    assert wanted == {"Version": "2012-10-17", "Statement": [OWN["Statement"][0], deny("a-1")]}
    assert next(p for p in policies if p.kind == PolicyKind.INLINE).document == one_statement
    policy.refresh_from_db()
    assert policy.document == one_statement


def test_no_revocation_no_statement(make_group, make_account, alice):
    group = make_group("Auditors", accounts=[make_account("audit")])
    SessionRevocation.objects.create(
        access_group=group,
        user=alice,
        identity_center_user_id="a-1",
        created_at=timezone.now() - timedelta(hours=2),
        lift_after=timezone.now() - timedelta(hours=1),
        lifted_at=timezone.now(),
    )

    assert wanted_inline_policy(group) is None


def test_a_person_with_two_revocations_is_named_once(make_group, make_account, alice):
    group = make_group("Auditors", accounts=[make_account("audit")])
    for hours in (1, 2):
        SessionRevocation.objects.create(
            access_group=group,
            user=alice,
            identity_center_user_id="a-1",
            lift_after=timezone.now() + timedelta(hours=hours),
        )

    assert wanted_inline_policy(group)["Statement"] == [deny("a-1")]


def test_past_the_size_limit_the_soonest_to_lift_are_left_out(make_group, make_account, alice):
    group = make_group("Auditors", accounts=[make_account("audit")])
    AccessGroupPolicy.objects.create(access_group=group, kind=PolicyKind.INLINE, document=OWN)
    now = timezone.now()
    # 300 people at about 50 characters each: more than 10,240 characters.
    ids = [identity_store_id() for _ in range(300)]
    SessionRevocation.objects.bulk_create(
        SessionRevocation(
            access_group=group,
            user=alice,
            identity_center_user_id=user_id,
            created_at=now,
            lift_after=now + timedelta(minutes=n + 1),
        )
        for n, user_id in enumerate(ids)
    )

    plan = inline_policy_plan(group)

    kept = plan.document["Statement"][-1]["Condition"]["StringEquals"]["identitystore:userId"]
    assert plan.document["Statement"][:-1] == OWN["Statement"]
    assert 150 < len(kept) < 300
    # The latest to lift are kept, the soonest left out, and nobody is lost.
    assert kept == sorted(ids[-len(kept) :])
    assert plan.left_out == sorted(ids[: -len(kept)])
    assert inline_policy_fits(json.dumps(plan.document, separators=(",", ":")))
    one_more = {**plan.document, "Statement": [*OWN["Statement"], deny(*kept, plan.left_out[0])]}
    assert not inline_policy_fits(json.dumps(one_more, separators=(",", ":")))


def test_past_the_size_limit_the_sync_says_whose_sessions_run_on(
    ic, aws_calls, group, alice, caplog
):
    now = timezone.now()
    SessionRevocation.objects.bulk_create(
        SessionRevocation(
            access_group=group,
            user=alice,
            identity_center_user_id=identity_store_id(),
            created_at=now,
            lift_after=now + timedelta(minutes=n + 1),
        )
        for n in range(300)
    )
    AccessGroup.objects.filter(pk=group.pk).update(generation=50, provisioning_status="pending")

    with caplog.at_level(logging.WARNING, logger="provisioning.permission_sets"):
        assert sync_group(group) == "in_sync"

    plan = inline_policy_plan(group)
    assert ic.permission_set(group.permission_set_arn)["inline"] == plan.document
    event = AuditEvent.objects.get(action="session.revocation_overflow")
    assert event.data["left_out"] == plan.left_out
    assert "is full" in event.message
    assert f"{len(plan.left_out)} more people" in caplog.text
    # A sync that changes nothing says nothing again.
    AccessGroup.objects.filter(pk=group.pk).update(generation=51, provisioning_status="pending")
    sync_group(group)
    assert AuditEvent.objects.filter(action="session.revocation_overflow").count() == 1


def test_a_group_policy_may_not_take_the_portals_sid():
    taken = {"Version": "2012-10-17", "Statement": {**OWN["Statement"][0], "Sid": SID}}

    with pytest.raises(ValidationError, match=SID):
        validate_inline_policy(taken)
