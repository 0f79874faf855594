"""The drift scan against the moto *server* over HTTP, as against AWS: outside changes of
every kind made with boto3, reported only, then reverted, then confirmed gone.

The server is the one `make run` starts (provisioning.fake); the portal reaches it through
AWS_ENDPOINT_URL, and the outside changes come from clients of the test's own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest

from accessgroups.access.services import membership_grant
from accessgroups.models import DriftFinding, DriftKind, DriftResolution, Membership
from provisioning import aws, drift, tasks
from provisioning.fake import FakeIdentityCenter
from tests.provisioning.conftest import IdentityCenterState, run_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

REGION = "us-east-1"


class ServerState(IdentityCenterState):
    """IdentityCenterState's readers and writers, over HTTP to the server."""

    def __init__(self, endpoint: str) -> None:
        self.sso = boto3.client("sso-admin", region_name=REGION, endpoint_url=endpoint)
        self.ids = boto3.client("identitystore", region_name=REGION, endpoint_url=endpoint)
        instance = self.sso.list_instances()["Instances"][0]
        self.instance_arn = instance["InstanceArn"]
        self.store = instance["IdentityStoreId"]


@pytest.fixture
def server(settings, monkeypatch) -> Iterator[ServerState]:
    fake = FakeIdentityCenter()
    fake.start()
    for name, value in fake.environment().items():
        monkeypatch.setenv(name, value)
    settings.AWS_ENDPOINT_URL = fake.endpoint_url
    settings.AWS_REGION = REGION
    settings.AWS_MAX_ATTEMPTS = 3
    settings.IDENTITY_CENTER_INSTANCE_ARN = ""
    settings.IDENTITY_STORE_ID = ""
    settings.MEMBER_ACCOUNT_ROLE_NAME = ""
    settings.PROVISIONING_REDIS_URL = ""
    settings.PROVISIONING_LIMITS_PREFIX = f"test:{uuid.uuid4().hex}:"
    aws.reset()
    try:
        yield ServerState(fake.endpoint_url)
    finally:
        aws.reset()
        fake.stop()


def test_outside_changes_are_reported_then_reverted(
    server, enqueued, make_group, make_account, alice, dave
):
    sandbox, prod, other = make_account("sandbox"), make_account("prod"), make_account("other")
    group = make_group("ReadOnly", accounts=[sandbox, prod])
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="x"
    )
    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"
    group.refresh_from_db()
    alice.refresh_from_db()
    group_id, arn = group.identity_center_group_id, group.permission_set_arn
    common = {"InstanceArn": server.instance_arn, "PermissionSetArn": arn}
    assert drift.drift_scan(policy=drift.REVERT).new.total() == 0

    # Someone in the console: a member added and one removed, the permission set assigned
    # in another account and one assignment removed, the permission set's contents changed.
    mallory = server.create_user("mallory")
    server.add_member(group_id, mallory)
    server.ids.delete_group_membership(
        IdentityStoreId=server.store,
        MembershipId=server.ids.get_group_membership_id(
            IdentityStoreId=server.store,
            GroupId=group_id,
            MemberId={"UserId": alice.identity_center_user_id},
        )["MembershipId"],
    )
    server.assign(other.account_id, arn, group_id)
    server.sso.delete_account_assignment(
        TargetId=prod.account_id,
        TargetType="AWS_ACCOUNT",
        PrincipalType="GROUP",
        PrincipalId=group_id,
        **common,
    )
    server.sso.attach_managed_policy_to_permission_set(
        ManagedPolicyArn="arn:aws:iam::aws:policy/AdministratorAccess", **common
    )
    server.sso.put_inline_policy_to_permission_set(
        InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": []}), **common
    )
    server.sso.update_permission_set(SessionDuration="PT12H", **common)
    enqueued.clear()

    reported = drift.drift_scan(policy=drift.REPORT)

    kinds = sorted(DriftFinding.objects.open().values_list("kind", flat=True))
    assert kinds == sorted(
        [
            DriftKind.UNEXPECTED_MEMBER,
            DriftKind.MISSING_MEMBER,
            DriftKind.UNEXPECTED_ASSIGNMENT,
            DriftKind.MISSING_ASSIGNMENT,
            DriftKind.PERMISSION_SET_CHANGED,
        ]
    )
    assert reported.reverted.total() == 0 and enqueued == []
    assert mallory in server.members(group_id)

    reverted = drift.drift_scan(policy=drift.REVERT)

    assert reverted.new.total() == 0 and reverted.still_open.total() == 5
    assert reverted.reverted.total() == 5, reverted.revert_failures
    assert DriftFinding.objects.open().count() == 0
    assert set(DriftFinding.objects.values_list("resolution", flat=True)) == {
        DriftResolution.REVERTED
    }
    # Outside additions are gone already; what was missing is the tasks' to restore.
    assert server.members(group_id) == []
    assert sorted(enqueued) == [
        ("access_group_sync_task", (group.pk,)),
        ("membership_sync_task", (membership.pk,)),
    ]
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"
    assert server.members(group_id) == [alice.identity_center_user_id]
    assert server.assignments(group_id) == sorted(
        [(sandbox.account_id, arn), (prod.account_id, arn)]
    )
    held = server.permission_set(arn)
    assert held["managed"] == {"arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert (held["inline"], held["session_duration"]) == (None, "PT1H")
    assert Membership.objects.get(pk=membership.pk).provisioning_status == "in_sync"

    # Nothing left to find.
    confirmed = drift.drift_scan(policy=drift.REVERT)
    assert confirmed.new.total() == 0 and DriftFinding.objects.count() == 5
