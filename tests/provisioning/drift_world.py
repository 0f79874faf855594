"""What the drift scan tests share: a provisioned access group with one member, and reads of
what a scan found."""

from __future__ import annotations

import json
from dataclasses import dataclass

from accessgroups.access.services import membership_grant
from accessgroups.models import AccessGroup, Account, AuditEvent, DriftFinding, Membership, User
from provisioning import drift, tasks
from tests.provisioning.conftest import run_task

POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"


@dataclass
class World:
    group: AccessGroup
    alice: User
    sandbox: Account
    prod: Account
    other: Account
    membership: Membership

    @property
    def group_id(self) -> str:
        return self.group.identity_center_group_id

    @property
    def arn(self) -> str:
        return self.group.permission_set_arn


def provisioned_world(aws_calls, enqueued, make_group, make_account, alice, dave) -> World:
    """ReadOnly granting sandbox and prod, alice in it, all provisioned; other is an account
    the group does not grant."""
    sandbox, prod, other = make_account("sandbox"), make_account("prod"), make_account("other")
    group = make_group("ReadOnly", accounts=[sandbox, prod])
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="on call"
    )
    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"
    group.refresh_from_db()
    alice.refresh_from_db()
    enqueued.clear()
    aws_calls.clear()
    return World(group, alice, sandbox, prod, other, membership)


def scan(policy: str = drift.REVERT) -> drift.ScanResult:
    result = drift.drift_scan(policy=policy)
    assert result is not None
    assert not result.error, result.error
    assert not result.unreadable, result.unreadable
    return result


def open_findings() -> list[tuple[str, str, str]]:
    return sorted((f.kind, f.principal, f.account_id) for f in DriftFinding.objects.open())


def actions(prefix: str = "drift.") -> list[str]:
    return list(
        AuditEvent.objects.filter(action__startswith=prefix)
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def tamper_with_permission_set(ic, arn: str) -> None:
    common = {"InstanceArn": ic.instance_arn, "PermissionSetArn": arn}
    ic.sso.attach_managed_policy_to_permission_set(ManagedPolicyArn=POWER_USER, **common)
    ic.sso.attach_customer_managed_policy_reference_to_permission_set(
        CustomerManagedPolicyReference={"Name": "extra", "Path": "/team/"}, **common
    )
    ic.sso.put_inline_policy_to_permission_set(
        InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": []}), **common
    )
    ic.sso.update_permission_set(SessionDuration="PT12H", **common)
