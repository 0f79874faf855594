"""An approved change request is provisioned like any change: the permission set, its
policy and the account assignment exist in Identity Center (moto) once it is approved."""

import boto3
import pytest

from accessgroups.models import AccessGroup

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "111111111111"


def test_an_approved_create_reaches_identity_center(
    api, dave, make_user, bob, identity_center, tasks_run_on_commit, settings
):
    settings.CHANGE_APPROVAL = "required"
    frank = make_user("frank", is_portal_admin=True)
    assert api(dave).post("/api/v1/accounts/", {"account_id": ACCOUNT, "name": "sandbox"}).status_code == 201
    proposed = api(dave).post(
        "/api/v1/access-groups/",
        {
            "name": "ReadOnly",
            "accounts": [ACCOUNT],
            "aws_managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "approvers": ["bob"],
        },
        format="json",
    )
    assert proposed.status_code == 202, proposed.data
    sso = boto3.client("sso-admin", region_name="us-east-1")
    instance = sso.list_instances()["Instances"][0]["InstanceArn"]
    assert sso.list_permission_sets(InstanceArn=instance)["PermissionSets"] == []

    approved = api(frank).post(f"/api/v1/change-requests/{proposed.data['id']}/approve/")
    assert approved.status_code == 202, approved.data

    group = AccessGroup.objects.get(name="ReadOnly")
    assert group.provisioning_status == "in_sync", group.last_error
    arn = group.permission_set_arn
    assert arn in sso.list_permission_sets(InstanceArn=instance)["PermissionSets"]
    policies = sso.list_managed_policies_in_permission_set(InstanceArn=instance, PermissionSetArn=arn)
    assert [p["Arn"] for p in policies["AttachedManagedPolicies"]] == [
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    ]
    assignments = sso.list_account_assignments(
        InstanceArn=instance, AccountId=ACCOUNT, PermissionSetArn=arn
    )["AccountAssignments"]
    assert [a["PrincipalType"] for a in assignments] == ["GROUP"]
