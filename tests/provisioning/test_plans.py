"""A change's plan lists the writes provisioning then really makes (moto in-process)."""

from __future__ import annotations

from collections import Counter

import pytest

from accessgroups.catalogue.services import (
    access_group_archive,
    access_group_create,
    access_group_update,
)
from accessgroups.changes.config import group_config, proposed_config
from accessgroups.changes.plan import plan_change, plan_lines
from accessgroups.models import AccessGroup
from provisioning import tasks
from tests.conftest import INLINE
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)

POWER = "arn:aws:iam::aws:policy/PowerUserAccess"
READ = "arn:aws:iam::aws:policy/ReadOnlyAccess"
S3_READ = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def planned(plan: dict) -> Counter:
    return Counter({step["operation"]: step["count"] for step in plan["plan"]})


def written(aws_calls) -> Counter:
    return Counter(aws_calls.writes())


def provision(group: AccessGroup) -> None:
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"


@pytest.fixture
def three(make_account):
    return [make_account("sandbox"), make_account("staging"), make_account("production")]


@pytest.fixture
def fields(three):
    return {
        "name": "Builders",
        "description": "Build things",
        "accounts": [three[0].account_id, three[1].account_id],
        "aws_managed_policies": [POWER, READ],
        "inline_policy": INLINE,
        "session_duration": "PT4H",
        "approvers": ["bob"],
    }


def test_the_plan_of_a_new_group_is_what_provisioning_writes(ic, aws_calls, dave, bob, fields):
    plan = plan_change(None, proposed_config(None, fields))
    assert [s["text"] for s in plan["plan"]] == [
        "create the group Builders",
        "create the permission set Builders",
        "attach 2 managed policies",
        "put the inline policy",
        "create 2 account assignments",
    ]
    assert plan["impact"]["members"] == 0
    group = access_group_create(actor=dave, **fields)
    provision(group)
    assert written(aws_calls) == planned(plan)


def test_the_plan_of_a_change_is_what_provisioning_writes(
    ic, aws_calls, dave, bob, alice, erin, grant, three, fields
):
    group = access_group_create(actor=dave, **fields)
    provision(group)
    grant(alice, group)
    grant(erin, group)
    aws_calls.clear()
    change = {
        "accounts": [three[1].account_id, three[2].account_id],  # sandbox out, production in
        "aws_managed_policies": [READ, S3_READ],  # PowerUser out, S3 read in
        "inline_policy": None,
        "session_duration": "PT2H",
    }
    group.refresh_from_db()
    plan = plan_change(group, proposed_config(group_config(group), change))
    assert [s["operation"] for s in plan["plan"]] == [
        "UpdatePermissionSet",
        "DetachManagedPolicyFromPermissionSet",
        "AttachManagedPolicyToPermissionSet",
        "DeleteInlinePolicyFromPermissionSet",
        "CreateAccountAssignment",
        "DeleteAccountAssignment",
        "ProvisionPermissionSet",
    ]
    impact = plan["impact"]
    assert impact["members"] == 2
    assert impact["accounts_added"] == [str(three[2])]
    assert impact["accounts_removed"] == [str(three[0])]
    assert (impact["access_gained"], impact["access_lost"]) == (2, 2)
    assert impact["permissions_changed"] is True
    access_group_update(actor=dave, access_group=group, **change)
    provision(group)
    assert written(aws_calls) == planned(plan)


def test_a_wording_change_updates_without_changing_permissions(ic, aws_calls, dave, bob, fields):
    group = access_group_create(actor=dave, **fields)
    provision(group)
    aws_calls.clear()
    group.refresh_from_db()
    plan = plan_change(group, proposed_config(group_config(group), {"description": "Build more"}))
    assert plan["impact"]["permissions_changed"] is False
    assert plan["impact"]["summary"] == "Nobody gains or loses access."
    access_group_update(actor=dave, access_group=group, description="Build more")
    provision(group)
    assert written(aws_calls) == planned(plan)


def test_no_change_plans_nothing(ic, dave, bob, fields):
    group = access_group_create(actor=dave, **fields)
    provision(group)
    group.refresh_from_db()
    plan = plan_change(group, group_config(group))
    assert plan["plan"] == []
    assert plan_lines(plan) == [
        "- nothing to do in Identity Center",
        "Impact: Nobody gains or loses access.",
    ]


def test_the_plan_of_an_archive_is_what_provisioning_writes(ic, aws_calls, dave, bob, alice, grant, fields):
    group = access_group_create(actor=dave, **fields)
    provision(group)
    grant(alice, group)
    aws_calls.clear()
    group.refresh_from_db()
    plan = plan_change(group, None)
    assert [s["text"] for s in plan["plan"]] == [
        "delete 2 account assignments",
        "delete the permission set Builders",
        "delete the group Builders and its memberships",
    ]
    assert plan["impact"]["memberships_ended"] == 1
    assert plan["impact"]["access_lost"] == 2
    access_group_archive(actor=dave, access_group=group)
    provision(group)
    assert written(aws_calls) == planned(plan)
