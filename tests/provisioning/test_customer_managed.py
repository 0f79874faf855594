"""Customer managed policies are checked in each target account before they are used."""

from __future__ import annotations

import boto3
import pytest

from accessgroups.catalogue.services import access_group_create
from accessgroups.models import AccessGroupAccount, ProvisioningStatus
from provisioning import tasks
from tests.provisioning.conftest import REGION, Inject, run_task

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = "PortalPolicyCheck"


def create_policy_in(account_id: str, name: str, path: str = "/") -> None:
    """Create a policy in a member account, as its own admins would (moto keeps accounts apart)."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/Admin", RoleSessionName="test"
    )["Credentials"]
    iam = boto3.client(
        "iam",
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    iam.create_policy(
        PolicyName=name,
        Path=path,
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}',
    )


@pytest.fixture
def two_accounts(make_account):
    return make_account("staging"), make_account("production")


@pytest.fixture
def deployers(dave, two_accounts):
    return access_group_create(
        actor=dave,
        name="Deployers",
        accounts=[a.account_id for a in two_accounts],
        aws_managed_policies=[],
        customer_managed_policies=[{"name": "Deploy", "path": "/shop/"}],
        requestable=False,
    )


def test_missing_policy_fails_the_group_naming_account_and_policy(
    ic, aws_calls, settings, deployers, two_accounts
):
    settings.MEMBER_ACCOUNT_ROLE_NAME = ROLE
    staging, production = two_accounts
    create_policy_in(staging.account_id, "Deploy", "/shop/")

    assert run_task(tasks.access_group_sync_task, deployers.pk) == "failed"

    deployers.refresh_from_db()
    expected = (
        f"The customer managed policy /shop/Deploy does not exist in account {production.account_id} (production): "
        "create it there with the same name and path, or remove it from the access group, then retry."
    )
    assert deployers.last_error == expected
    link = AccessGroupAccount.objects.get(access_group=deployers, account=production)
    assert (link.provisioning_status, link.last_error) == (ProvisioningStatus.FAILED, expected)
    assert [p["RoleArn"] for p in aws_calls.named("AssumeRole")] == [
        f"arn:aws:iam::{a.account_id}:role/{ROLE}"
        for a in sorted(two_accounts, key=lambda a: a.account_id)
    ]
    # Nothing was attached or assigned with a policy that cannot work.
    assert aws_calls.count("AttachCustomerManagedPolicyReferenceToPermissionSet") == 0
    assert aws_calls.count("CreateAccountAssignment") == 0


def test_once_the_policy_exists_a_retry_goes_through(ic, settings, dave, deployers, two_accounts):
    from accessgroups.access.services import provisioning_retry

    settings.MEMBER_ACCOUNT_ROLE_NAME = ROLE
    staging, production = two_accounts
    create_policy_in(staging.account_id, "Deploy", "/shop/")
    run_task(tasks.access_group_sync_task, deployers.pk)
    create_policy_in(production.account_id, "Deploy", "/shop/")

    deployers.refresh_from_db()
    provisioning_retry(obj=deployers, actor=dave)
    assert run_task(tasks.access_group_sync_task, deployers.pk) == "in_sync"

    deployers.refresh_from_db()
    assert ic.permission_set(deployers.permission_set_arn)["customer"] == {("/shop/", "Deploy")}
    assert len(ic.assignments(deployers.identity_center_group_id)) == 2
    assert {
        link.provisioning_status
        for link in AccessGroupAccount.objects.filter(access_group=deployers)
    } == {ProvisioningStatus.IN_SYNC}


def test_role_not_assumable_skips_the_check(ic, aws_calls, settings, register, deployers):
    settings.MEMBER_ACCOUNT_ROLE_NAME = ROLE
    register(
        "before-send.sts.AssumeRole", Inject(times=100, code="AccessDenied", status=403, xml=True)
    )

    assert run_task(tasks.access_group_sync_task, deployers.pk) == "in_sync"

    assert aws_calls.count("GetPolicy") == 0
    assert aws_calls.count("AttachCustomerManagedPolicyReferenceToPermissionSet") == 1


def test_no_role_configured_means_no_check(ic, aws_calls, deployers):
    assert run_task(tasks.access_group_sync_task, deployers.pk) == "in_sync"

    assert aws_calls.count("AssumeRole") == 0
