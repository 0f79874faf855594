"""Access groups made to match Identity Center: group, permission set, policies, accounts."""

from __future__ import annotations

import pytest

from accessgroups.catalogue.services import (
    access_group_archive,
    access_group_create,
    access_group_update,
)
from accessgroups.models import AccessGroup, AccessGroupAccount, AuditEvent, ProvisioningStatus
from provisioning import tasks
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
}


@pytest.fixture
def accounts(make_account):
    return [make_account("sandbox"), make_account("staging"), make_account("production")]


@pytest.fixture
def developers(dave, accounts):
    """A group with every policy kind on two accounts, as the workflow creates it."""
    return access_group_create(
        actor=dave,
        name="Developers",
        description="Developers of the shop",
        accounts=[accounts[0].account_id, accounts[1].account_id],
        aws_managed_policies=[READ_ONLY, POWER_USER],
        customer_managed_policies=[{"name": "ShopDeploy", "path": "/shop/"}],
        inline_policy=INLINE,
        session_duration="PT4H",
        requestable=False,
    )


def sync(group: AccessGroup) -> str:
    result = run_task(tasks.access_group_sync_task, group.pk)
    group.refresh_from_db()
    return result


def test_new_group_gets_group_permission_set_policies_and_assignments(
    ic, aws_calls, developers, accounts
):
    assert sync(developers) == "in_sync"

    assert developers.provisioning_status == ProvisioningStatus.IN_SYNC
    assert developers.last_error == ""
    assert developers.identity_center_group_id == ic.group_id("Developers")
    assert ic.permission_sets_named("Developers") == [developers.permission_set_arn]
    ps = ic.permission_set(developers.permission_set_arn)
    assert ps["session_duration"] == "PT4H"
    assert ps["description"] == "Developers of the shop"
    assert ps["managed"] == {READ_ONLY, POWER_USER}
    assert ps["customer"] == {("/shop/", "ShopDeploy")}
    assert ps["inline"] == INLINE
    assert ic.assignments(developers.identity_center_group_id) == sorted(
        (a.account_id, developers.permission_set_arn) for a in accounts[:2]
    )
    links = AccessGroupAccount.objects.filter(access_group=developers)
    assert {link.provisioning_status for link in links} == {ProvisioningStatus.IN_SYNC}
    # Looked up before created; every write audited.
    ops = aws_calls.operations()
    assert ops.index("GetGroupId") < ops.index("CreateGroup")
    assert ops.index("ListPermissionSets") < ops.index("CreatePermissionSet")
    assert ops.index("ListAccountAssignmentsForPrincipal") < ops.index("CreateAccountAssignment")
    audited = sorted(
        e.action.removeprefix("identity_center.")
        for e in AuditEvent.objects.filter(action__startswith="identity_center.")
    )
    assert audited == sorted(aws_calls.writes())
    assert aws_calls.count("CreateAccountAssignment") == 2
    assert aws_calls.count("ProvisionPermissionSet") == 0  # nothing was assigned before


def test_rerun_after_success_makes_no_aws_call(ic, aws_calls, developers):
    sync(developers)
    aws_calls.clear()

    assert sync(developers) == "skipped"

    assert aws_calls.calls == []


def test_rerun_of_an_unchanged_group_reads_but_writes_nothing(ic, aws_calls, developers):
    sync(developers)
    AccessGroup.objects.filter(pk=developers.pk).update(
        provisioning_status=ProvisioningStatus.PENDING, generation=9
    )
    aws_calls.clear()

    assert sync(developers) == "in_sync"

    assert aws_calls.writes() == []
    assert developers.synced_generation == 9


def test_removing_policies_and_an_account_makes_the_matching_calls(
    ic, aws_calls, dave, developers, accounts
):
    sync(developers)
    group_id, arn = developers.identity_center_group_id, developers.permission_set_arn
    aws_calls.clear()

    access_group_update(
        actor=dave,
        access_group=developers,
        aws_managed_policies=[READ_ONLY],
        customer_managed_policies=[],
        inline_policy=None,
        accounts=[accounts[0].account_id],
    )
    assert sync(developers) == "in_sync"

    assert aws_calls.named("DetachManagedPolicyFromPermissionSet") == [
        {"InstanceArn": ic.instance_arn, "PermissionSetArn": arn, "ManagedPolicyArn": POWER_USER}
    ]
    assert aws_calls.named("DetachCustomerManagedPolicyReferenceFromPermissionSet") == [
        {
            "InstanceArn": ic.instance_arn,
            "PermissionSetArn": arn,
            "CustomerManagedPolicyReference": {"Name": "ShopDeploy", "Path": "/shop/"},
        }
    ]
    assert aws_calls.count("DeleteInlinePolicyFromPermissionSet") == 1
    deleted = aws_calls.named("DeleteAccountAssignment")
    assert [(d["TargetId"], d["PrincipalId"], d["PermissionSetArn"]) for d in deleted] == [
        (accounts[1].account_id, group_id, arn)
    ]
    assert aws_calls.count("CreateAccountAssignment") == 0
    # sandbox keeps its assignment, so the changed permission set is pushed out to it.
    assert aws_calls.named("ProvisionPermissionSet") == [
        {
            "InstanceArn": ic.instance_arn,
            "PermissionSetArn": arn,
            "TargetType": "ALL_PROVISIONED_ACCOUNTS",
        }
    ]
    ps = ic.permission_set(arn)
    assert (ps["managed"], ps["customer"], ps["inline"]) == ({READ_ONLY}, set(), None)
    assert ic.assignments(group_id) == [(accounts[0].account_id, arn)]
    ended = AccessGroupAccount.objects.get(access_group=developers, account=accounts[1])
    assert ended.valid_to is not None
    assert ended.provisioning_status == ProvisioningStatus.IN_SYNC


def test_adding_an_account_and_changing_settings(ic, aws_calls, dave, developers, accounts):
    sync(developers)
    arn = developers.permission_set_arn
    aws_calls.clear()

    access_group_update(
        actor=dave,
        access_group=developers,
        accounts=[a.account_id for a in accounts],
        session_duration="PT8H",
        inline_policy={
            **INLINE,
            "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
        },
        aws_managed_policies=[
            READ_ONLY,
            POWER_USER,
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        ],
        customer_managed_policies=[
            {"name": "ShopDeploy", "path": "/shop/"},
            {"name": "Audit", "path": "/"},
        ],
    )
    assert sync(developers) == "in_sync"

    assert [c["TargetId"] for c in aws_calls.named("CreateAccountAssignment")] == [
        accounts[2].account_id
    ]
    assert aws_calls.named("UpdatePermissionSet")[0]["SessionDuration"] == "PT8H"
    assert [
        p["ManagedPolicyArn"] for p in aws_calls.named("AttachManagedPolicyToPermissionSet")
    ] == ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    assert [
        p["CustomerManagedPolicyReference"]
        for p in aws_calls.named("AttachCustomerManagedPolicyReferenceToPermissionSet")
    ] == [{"Name": "Audit", "Path": "/"}]
    assert aws_calls.count("PutInlinePolicyToPermissionSet") == 1
    assert aws_calls.count("ProvisionPermissionSet") == 1
    ps = ic.permission_set(arn)
    assert ps["session_duration"] == "PT8H"
    assert ps["inline"]["Statement"][0]["Action"] == "ec2:Describe*"
    assert len(ic.assignments(developers.identity_center_group_id)) == 3


def test_only_account_changes_push_nothing(ic, aws_calls, dave, developers, accounts):
    sync(developers)
    aws_calls.clear()

    access_group_update(
        actor=dave, access_group=developers, accounts=[a.account_id for a in accounts]
    )
    sync(developers)

    assert aws_calls.writes() == ["CreateAccountAssignment"]


def test_description_change_updates_the_permission_set(ic, aws_calls, dave, developers):
    sync(developers)
    aws_calls.clear()

    access_group_update(actor=dave, access_group=developers, description="Shop developers")
    assert sync(developers) == "in_sync"

    assert aws_calls.named("UpdatePermissionSet")[0]["Description"] == "Shop developers"
    assert ic.permission_set(developers.permission_set_arn)["description"] == "Shop developers"
    # The emulator lacks UpdateGroup; the attempt must not fail the group.
    assert aws_calls.count("UpdateGroup") == 1


def test_an_existing_permission_set_of_the_same_name_is_adopted(ic, aws_calls, developers):
    existing = ic.sso.create_permission_set(
        InstanceArn=ic.instance_arn, Name="Developers", SessionDuration="PT1H"
    )
    arn = existing["PermissionSet"]["PermissionSetArn"]

    sync(developers)

    assert developers.permission_set_arn == arn
    assert ic.permission_sets_named("Developers") == [arn]
    assert aws_calls.count("CreatePermissionSet") == 0
    assert aws_calls.named("UpdatePermissionSet")[0]["SessionDuration"] == "PT4H"


def test_archive_tears_everything_down(ic, aws_calls, dave, developers, alice, enqueued):
    from accessgroups.access.services import membership_grant
    from accessgroups.models import Membership

    sync(developers)
    membership = membership_grant(
        user=alice, access_group=developers, granted_by=dave, justification="shop work"
    )
    run_task(tasks.membership_sync_task, membership.pk)
    group_id = developers.identity_center_group_id
    assert ic.members(group_id)
    aws_calls.clear()

    access_group_archive(actor=dave, access_group=developers)
    assert ("access_group_sync_task", (developers.pk,)) in enqueued
    assert sync(developers) == "in_sync"

    assert ic.assignments(group_id) == []
    assert ic.group_id("Developers") is None
    assert ic.permission_sets_named("Developers") == []
    assert sorted(aws_calls.writes()) == sorted(
        ["DeleteAccountAssignment", "DeleteAccountAssignment", "DeletePermissionSet", "DeleteGroup"]
    )
    assert (developers.identity_center_group_id, developers.permission_set_arn) == ("", "")
    membership.refresh_from_db()
    assert membership.ended_at is not None
    assert membership.provisioning_status == ProvisioningStatus.IN_SYNC
    assert membership.synced_generation == membership.generation
    links = AccessGroupAccount.objects.filter(access_group=developers)
    assert {(link.valid_to is not None, link.provisioning_status) for link in links} == {
        (True, ProvisioningStatus.IN_SYNC)
    }
    assert not Membership.objects.filter(access_group=developers, ended_at__isnull=True).exists()

    aws_calls.clear()
    assert sync(developers) == "skipped"
    assert aws_calls.calls == []


def test_stale_group_and_permission_set_are_healed_with_drift(
    ic, aws_calls, developers, alice, dave, enqueued
):
    from accessgroups.access.services import membership_grant

    sync(developers)
    membership = membership_grant(
        user=alice, access_group=developers, granted_by=dave, justification="shop work"
    )
    run_task(tasks.membership_sync_task, membership.pk)
    old_group, old_arn = developers.identity_center_group_id, developers.permission_set_arn
    for account_id, arn in ic.assignments(old_group):
        ic.sso.delete_account_assignment(
            InstanceArn=ic.instance_arn,
            TargetId=account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=arn,
            PrincipalType="GROUP",
            PrincipalId=old_group,
        )
    ic.delete_group(old_group)
    ic.delete_permission_set(old_arn)
    AccessGroup.objects.filter(pk=developers.pk).update(
        provisioning_status=ProvisioningStatus.PENDING, generation=7
    )
    enqueued.clear()

    assert sync(developers) == "in_sync"

    assert developers.identity_center_group_id not in ("", old_group)
    assert developers.permission_set_arn not in ("", old_arn)
    drift = {e.data["what"]: e.data for e in AuditEvent.objects.filter(action="provisioning.drift")}
    assert drift["group"] == {
        "what": "group",
        "old_id": old_group,
        "new_id": developers.identity_center_group_id,
    }
    assert drift["permission set"]["new_id"] == developers.permission_set_arn
    assert len(ic.assignments(developers.identity_center_group_id)) == 2
    assert ic.permission_set(developers.permission_set_arn)["managed"] == {READ_ONLY, POWER_USER}
    # alice's membership went with the old group: it is made again.
    assert ("membership_sync_task", (membership.pk,)) in enqueued
    run_task(tasks.membership_sync_task, membership.pk)
    assert ic.members(developers.identity_center_group_id) == [
        alice.identity_center_user_id or ic.user_id("alice")
    ]


def test_assignment_made_outside_the_portal_is_removed_as_drift(
    ic, aws_calls, developers, accounts
):
    sync(developers)
    ic.assign(
        accounts[2].account_id, developers.permission_set_arn, developers.identity_center_group_id
    )
    AccessGroup.objects.filter(pk=developers.pk).update(
        provisioning_status=ProvisioningStatus.PENDING, generation=3
    )

    sync(developers)

    assert [d["TargetId"] for d in aws_calls.named("DeleteAccountAssignment")] == [
        accounts[2].account_id
    ]
    assert (
        AuditEvent.objects.filter(
            action="provisioning.drift", data__what="account assignment"
        ).count()
        == 1
    )
    assert len(ic.assignments(developers.identity_center_group_id)) == 2


def test_waiting_memberships_are_enqueued_once_the_group_exists(
    ic, developers, alice, dave, enqueued
):
    from accessgroups.access.services import membership_grant

    membership = membership_grant(
        user=alice, access_group=developers, granted_by=dave, justification="shop work"
    )
    enqueued.clear()

    sync(developers)

    assert ("membership_sync_task", (membership.pk,)) in enqueued


def test_a_new_group_waits_for_the_teardown_of_an_archived_one_of_the_same_name(
    ic, dave, developers, accounts
):
    from provisioning.errors import TransientError

    sync(developers)
    old_group_id = developers.identity_center_group_id
    access_group_archive(actor=dave, access_group=developers)
    successor = access_group_create(
        actor=dave, name="Developers", accounts=[accounts[2].account_id], requestable=False
    )

    with pytest.raises(TransientError, match="archived access group Developers"):
        tasks.access_group_sync_task.run(successor.pk)
    assert ic.group_id("Developers") == old_group_id  # not adopted

    sync(developers)
    assert sync(successor) == "in_sync"
    assert successor.identity_center_group_id not in ("", old_group_id)
    assert ic.assignments(successor.identity_center_group_id) == [
        (accounts[2].account_id, successor.permission_set_arn)
    ]
