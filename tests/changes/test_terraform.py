"""export_access_groups --format terraform: a terraform.tfvars.json for the aws-ia
iam-identity-center module, checked against the variables the module declares."""

from __future__ import annotations

import json

import pytest

from accessgroups.models import Account, AccessGroup
from tests.changes.estate import INLINE
from tests.changes.helpers import run

pytestmark = pytest.mark.django_db

# The module's variables.tf (github.com/aws-ia/terraform-aws-iam-identity-center): each
# object's attributes, required ones first. permission_sets is `any`; main.tf and locals.tf
# read the keys listed here (customer managed policies by name, path "/").
REQUIRED, OPTIONAL = "required", "optional"
SSO_GROUP = {"group_name": (REQUIRED, str), "group_description": (OPTIONAL, str)}
SSO_USER = {
    "user_name": (REQUIRED, str),
    "group_membership": (REQUIRED, list),
    "given_name": (REQUIRED, str),
    "family_name": (REQUIRED, str),
    "email": (REQUIRED, str),
    "display_name": (OPTIONAL, str),
}
PERMISSION_SET = {
    "description": (OPTIONAL, str),
    "session_duration": (OPTIONAL, str),
    "relay_state": (OPTIONAL, str),
    "tags": (OPTIONAL, dict),
    "aws_managed_policies": (OPTIONAL, list),
    "customer_managed_policies": (OPTIONAL, list),
    "inline_policy": (OPTIONAL, str),
}
ACCOUNT_ASSIGNMENT = {
    "principal_name": (REQUIRED, str),
    "principal_type": (REQUIRED, str),  # USER or GROUP
    "principal_idp": (REQUIRED, str),  # INTERNAL or EXTERNAL
    "permission_sets": (REQUIRED, list),
    "account_ids": (REQUIRED, list),
}
VARIABLES = {
    "sso_groups": SSO_GROUP,
    "sso_users": SSO_USER,
    "permission_sets": PERMISSION_SET,
    "account_assignments": ACCOUNT_ASSIGNMENT,
}


def assert_module_shape(tfvars: dict) -> None:
    assert set(tfvars) <= set(VARIABLES), set(tfvars) - set(VARIABLES)
    for variable, attributes in VARIABLES.items():
        for key, value in tfvars.get(variable, {}).items():
            assert isinstance(key, str) and isinstance(value, dict)
            assert set(value) <= set(attributes), (variable, key, set(value) - set(attributes))
            for attribute, (need, kind) in attributes.items():
                if need == REQUIRED:
                    assert attribute in value, (variable, key, attribute)
                if attribute in value:
                    assert isinstance(value[attribute], kind), (variable, key, attribute)
                    if kind is list:
                        assert all(isinstance(item, str) for item in value[attribute])
    for key, assignment in tfvars.get("account_assignments", {}).items():
        assert assignment["principal_type"] in ("USER", "GROUP")
        assert assignment["principal_idp"] in ("INTERNAL", "EXTERNAL")
        # An INTERNAL group is one of sso_groups (the module looks it up by its key), and
        # each permission set one of permission_sets.
        assert assignment["principal_name"] in tfvars["sso_groups"]
        assert set(assignment["permission_sets"]) <= set(tfvars["permission_sets"])
    # main.tf finds a group by its group_name and a user by its user_name used as keys
    # (aws_identitystore_group.sso_groups[group_name]): each key must be that name.
    for key, group in tfvars.get("sso_groups", {}).items():
        assert key == group["group_name"]
    for key, user in tfvars.get("sso_users", {}).items():
        assert key == user["user_name"]
        assert set(user["group_membership"]) <= set(tfvars["sso_groups"])
        assert 1 < len(user["user_name"]) <= 128


def tfvars(*args: str) -> dict:
    result = run("export_access_groups", "--format", "terraform", *args)
    assert result.status == 0
    return json.loads(result.out)


def test_one_group_and_permission_set_per_live_access_group(estate, alice, grant):
    grant(alice, estate["Developers"])
    grant(alice, estate["Billing"])

    found = tfvars()

    assert_module_shape(found)
    assert sorted(found["sso_groups"]) == ["Billing", "Developers", "ReadOnly"]
    assert found["sso_groups"]["Developers"]["group_name"] == "Developers"
    developers = found["permission_sets"]["Developers"]
    assert developers["session_duration"] == "PT4H"
    assert developers["aws_managed_policies"] == [
        "arn:aws:iam::aws:policy/PowerUserAccess",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ]
    assert developers["customer_managed_policies"] == ["logs", "deploy"]
    assert json.loads(developers["inline_policy"]) == INLINE
    # Identity Center's characters for a permission set description: no emoji.
    assert developers["description"].startswith("Builds things ? f\u00fcr Entwickler ?\n")
    assert "inline_policy" not in found["permission_sets"]["Billing"]


def test_assignments_cover_listed_accounts_and_those_under_an_ou(estate):
    found = tfvars()

    assert found["account_assignments"]["Developers"] == {
        "principal_name": "Developers",
        "principal_type": "GROUP",
        "principal_idp": "INTERNAL",
        "permission_sets": ["Developers"],
        "account_ids": ["111111111110", "111111111111", "222222222222"],
    }
    # A group without accounts has nothing to assign.
    assert "ReadOnly" not in found["account_assignments"]


def test_users_with_an_active_membership(estate, alice, bob, grant):
    grant(alice, estate["Developers"])
    grant(alice, estate["Billing"])
    grant(bob, estate["Billing"])
    from django.utils import timezone

    grant(bob, estate["Developers"], ended_at=timezone.now())

    users = tfvars()["sso_users"]

    assert users == {
        "alice": {
            "user_name": "alice",
            "display_name": "Alice Example",
            "given_name": "Alice",
            "family_name": "Example",
            "email": "alice@example.com",
            "group_membership": ["Billing", "Developers"],
        },
        "bob": {
            "user_name": "bob",
            "display_name": "Bob Example",
            "given_name": "Bob",
            "family_name": "Example",
            "email": "bob@example.com",
            "group_membership": ["Billing"],
        },
    }


def test_with_an_identity_provider_users_are_left_out(estate, alice, grant, settings):
    settings.IDENTITY_SOURCE = "external"
    grant(alice, estate["Developers"])

    found = tfvars()

    assert "sso_users" not in found
    assert_module_shape(found)


def test_the_example_in_the_docs_has_the_modules_shape():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "terraform.tfvars.json"
    assert_module_shape(json.loads(example.read_text(encoding="utf-8")))


def test_queries_do_not_grow_with_the_groups(estate, dave, alice, grant, django_assert_max_num_queries):
    from accessgroups.catalogue.services import access_group_create

    grant(alice, estate["Developers"])
    with django_assert_max_num_queries(14) as few:
        tfvars()
    for n in range(5):
        group = access_group_create(
            actor=dave, name=f"More{n}", approvers=["bob"], accounts=["111111111110"]
        )
        grant(alice, group)
    assert AccessGroup.objects.live().count() == 8 and Account.objects.count() == 4
    with django_assert_max_num_queries(len(few.captured_queries)):
        tfvars()
