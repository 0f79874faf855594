"""Plans and configurations read from the database: accounts by OU, the diff, no AWS call."""

from __future__ import annotations

import pytest

from accessgroups.changes.config import config_diff, group_config, proposed_config
from accessgroups.changes.plan import plan_change
from accessgroups.models import Account, AccountSource, OrganizationalUnit

pytestmark = pytest.mark.django_db


@pytest.fixture
def prod_unit(db):
    root = OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root")
    return OrganizationalUnit.objects.create(
        ou_id="ou-ab12-22222222", name="Prod", parent=root, path="Root/Prod"
    )


def _account(account_id: str, name: str, unit, status: str = "ACTIVE") -> Account:
    return Account.objects.create(
        account_id=account_id, name=name, status=status, source=AccountSource.ORGANIZATIONS,
        parent_ou=unit, ou_path=unit.path,
    )


def test_an_ou_plans_an_assignment_for_each_active_account_under_it(prod_unit, make_group, bob, grant, alice):
    _account("111111111111", "api", prod_unit)
    _account("222222222222", "web", prod_unit)
    _account("333333333333", "old", prod_unit, status="SUSPENDED")
    group = make_group("G", approvers=[bob], permission_set_arn="arn:aws:sso:::permissionSet/x/ps-1")
    grant(alice, group)

    plan = plan_change(group, proposed_config(group_config(group), {"organizational_units": [prod_unit.ou_id]}))

    assert plan["plan"] == [
        {
            "operation": "CreateAccountAssignment",
            "count": 2,
            "text": "create 2 account assignments",
            "items": ["api (111111111111)", "web (222222222222)"],
        }
    ]
    assert plan["impact"]["access_gained"] == 2
    assert plan["impact"]["summary"] == "1 member gains access to 2 accounts."


def test_a_group_never_provisioned_is_planned_as_new(make_group, bob, sandbox):
    group = make_group("G", accounts=[sandbox], approvers=[bob])
    plan = plan_change(group, group_config(group))
    assert [s["operation"] for s in plan["plan"]] == [
        "CreateGroup",
        "CreatePermissionSet",
        "AttachManagedPolicyToPermissionSet",
        "CreateAccountAssignment",
    ]


def test_the_diff_names_each_changed_field_from_and_to(make_group, bob, sandbox):
    group = make_group("G", accounts=[sandbox], approvers=[bob], session_duration="PT1H")
    before = group_config(group)
    after = proposed_config(before, {"session_duration": "PT60M", "approvers": ["bob"], "risk": "high"})
    # PT60M is PT1H: no change; the same approvers: no change.
    assert config_diff(before, after) == {"risk": {"from": "normal", "to": "high"}}
    assert config_diff(before, None) == {}
