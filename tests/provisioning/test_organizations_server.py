"""Accounts by OU against the moto *server* over HTTP, as against AWS: a nested tree, an
account created into a targeted OU and one moved out between two syncs, and the group's
assignments in Identity Center following."""

from __future__ import annotations

import boto3
import pytest

from accessgroups.catalogue.services import access_group_update
from accessgroups.models import AuditEvent
from provisioning import tasks
from tests.provisioning.conftest import run_task
from tests.provisioning.test_drift_server import REGION, server  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_assignments_follow_the_tree_between_syncs(server, enqueued, make_group, dave):  # noqa: F811
    org = boto3.client("organizations", region_name=REGION, endpoint_url=server.sso.meta.endpoint_url)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]

    def ou(name: str, parent: str) -> str:
        return org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]

    def account(name: str, parent: str) -> str:
        account_id = org.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        return account_id

    workloads = ou("Workloads", root)
    prod = ou("Prod", workloads)
    sandbox = ou("Sandbox", root)
    api = account("api", prod)
    tools = account("tools", workloads)
    assert run_task(tasks.accounts_sync_task) == "in_sync"
    group = make_group("Workloads")
    access_group_update(actor=dave, access_group=group, organizational_units=[workloads])
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    group.refresh_from_db()
    arn, group_id = group.permission_set_arn, group.identity_center_group_id
    assert server.assignments(group_id) == sorted([(api, arn), (tools, arn)])

    # Between two syncs: a new account in Prod, tools moved to Sandbox.
    new = account("new", prod)
    org.move_account(AccountId=tools, SourceParentId=workloads, DestinationParentId=sandbox)
    enqueued.clear()
    seen = AuditEvent.objects.count()
    assert run_task(tasks.accounts_sync_task, dave.pk) == "in_sync"
    assert ("access_group_sync_task", (group.pk,)) in enqueued
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"

    assert server.assignments(group_id) == sorted([(api, arn), (new, arn)])
    assert sorted(
        (e.action, e.data["account_id"], e.data["ou_path"])
        for e in AuditEvent.objects.filter(action__startswith="account_link.", sequence__gt=seen)
    ) == [
        ("account_link.added", new, "Root/Workloads/Prod"),
        ("account_link.removed", tools, "Root/Sandbox"),
    ]
