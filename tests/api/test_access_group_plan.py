"""POST /api/v1/access-groups/plan/: what a proposed body would change, nothing saved."""

from __future__ import annotations

import pytest

from accessgroups.models import AccessGroup
from tests.api.helpers import assert_bad_input, database_fingerprint

pytestmark = pytest.mark.django_db

URL = "/api/v1/access-groups/plan/"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.fixture
def group(make_group, sandbox, bob, alice, grant):
    group = make_group(
        "ReadOnly", accounts=[sandbox], approvers=[bob],
        permission_set_arn="arn:aws:sso:::permissionSet/ssoins-1/ps-1",
        identity_center_group_id="g-1",
    )
    grant(alice, group)
    return group


def test_a_new_group_is_planned_and_nothing_is_saved(api, dave, bob, sandbox):
    client = api(dave)
    before = database_fingerprint()
    response = client.post(
        URL,
        {"name": "Admins", "accounts": [sandbox.account_id], "aws_managed_policies": [ADMIN_ACCESS],
         "approvers": ["bob"], "approvals_required": 1},
        format="json",
    )
    assert response.status_code == 200, response.data
    data = response.data
    assert data["action"] == "create" and data["access_group"] is None
    # What saving would store, including the risk the portal suggests.
    assert data["changes"]["risk"] == {"from": None, "to": "high"}
    assert [s["text"] for s in data["plan"]] == [
        "create the group Admins",
        "create the permission set Admins",
        "attach 1 managed policy",
        "create 1 account assignment",
    ]
    assert data["plan"][2]["items"] == ["AdministratorAccess"]
    assert data["impact"]["summary"] == "1 account added (no members yet)."
    assert database_fingerprint() == before
    assert not AccessGroup.objects.filter(name="Admins").exists()


def test_an_update_is_planned_with_its_impact(api, dave, group, make_account):
    production = make_account("production")
    client = api(dave)
    before = database_fingerprint()
    response = client.post(
        URL,
        {"access_group": group.pk, "accounts": [production.account_id], "session_duration": "PT2H"},
        format="json",
    )
    assert response.status_code == 200, response.data
    data = response.data
    assert data["action"] == "update"
    assert data["changes"]["session_duration"] == {"from": "PT1H", "to": "PT2H"}
    assert [s["operation"] for s in data["plan"]] == [
        "UpdatePermissionSet",
        "CreateAccountAssignment",
        "DeleteAccountAssignment",
    ]
    assert data["impact"]["accounts_added"] == [f"production ({production.account_id})"]
    assert data["impact"]["summary"] == "1 member gains access to 1 account; 1 member loses access to 1 account."
    assert database_fingerprint() == before


def test_an_archive_is_planned(api, dave, group):
    response = api(dave).post(URL, {"access_group": group.pk, "action": "archive"}, format="json")
    assert response.status_code == 200, response.data
    assert [s["operation"] for s in response.data["plan"]] == [
        "DeleteAccountAssignment", "DeletePermissionSet", "DeleteGroup",
    ]
    assert response.data["impact"]["memberships_ended"] == 1
    group.refresh_from_db()
    assert group.archived_at is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"accounts": ["999999999999"], "name": "New"}, "accounts"),
        ({"name": "New", "approvers": ["nobody"]}, "approvers"),
        ({"name": "New", "session_duration": "PT13H", "approvers": ["bob"]}, "session_duration"),
        ({"approvers": ["bob"]}, "name"),
        ({"access_group": 999999, "description": "x"}, "access_group"),
        ({"name": "New", "action": "update"}, "access_group"),
        ({"name": "ReadOnly", "approvers": ["bob"]}, "name"),
        ({"name": "New", "approvers": ["bob"], "approvals_required": 3}, "approvals_required"),
        ({"name": "New", "inline_policy": {"Version": "2012-10-17"}}, "inline_policy"),
    ],
)
def test_bad_proposals_are_refused_naming_the_field(api, dave, bob, group, body, field):
    client = api(dave)
    before = database_fingerprint()
    response = client.post(URL, body, format="json")
    assert_bad_input(response, field, before)


def test_the_name_of_an_existing_group_cannot_change(api, dave, group):
    client = api(dave)
    before = database_fingerprint()
    response = client.post(URL, {"access_group": group.pk, "name": "Other"}, format="json")
    assert_bad_input(response, "name", before)


def test_archiving_takes_no_fields(api, dave, group):
    client = api(dave)
    before = database_fingerprint()
    response = client.post(
        URL, {"access_group": group.pk, "action": "archive", "description": "x"}, format="json"
    )
    assert_bad_input(response, "action", before)


def test_only_admins_plan(api, bob, carol, group):
    for user in (bob, carol):
        assert api(user).post(URL, {"access_group": group.pk}, format="json").status_code == 403
