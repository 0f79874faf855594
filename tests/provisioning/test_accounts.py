"""Accounts read from AWS Organizations (moto), upserted and audited."""

from __future__ import annotations

import boto3
import pytest

from accessgroups.models import Account, AccountSource, AccountStatus, AuditEvent
from provisioning import tasks
from tests.provisioning.conftest import REGION, run_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def org(ic):
    client = boto3.client("organizations", region_name=REGION)
    client.create_organization(FeatureSet="ALL")

    def add(name: str) -> str:
        status = client.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]
        return status["AccountId"]

    client.add = add  # type: ignore[attr-defined]
    return client


def test_sync_creates_accounts_and_audits_them(ic, org, dave):
    staging = org.add("staging")
    listed = {
        a["Id"]: a for a in org.list_accounts()["Accounts"]
    }  # includes the management account

    assert run_task(tasks.accounts_sync_task, dave.pk) == "in_sync"

    rows = {a.account_id: a for a in Account.objects.all()}
    assert rows.keys() == listed.keys()
    assert rows[staging].name == "staging"
    assert rows[staging].email == "staging@example.com"
    assert rows[staging].status == AccountStatus.ACTIVE
    assert rows[staging].source == AccountSource.ORGANIZATIONS
    events = AuditEvent.objects.filter(action="account.created")
    assert {e.data["account_id"] for e in events} == set(listed)
    assert {e.actor_id for e in events} == {dave.pk}


def test_rerun_without_changes_changes_nothing(ic, org):
    org.add("staging")
    run_task(tasks.accounts_sync_task)
    events = AuditEvent.objects.count()

    run_task(tasks.accounts_sync_task)

    assert AuditEvent.objects.count() == events


def test_changes_update_rows_and_hand_entered_accounts_are_adopted(ic, org, dave, make_account):
    staging = org.add("staging")
    sandbox = org.add("sandbox")
    make_account("typed by hand", account_id=sandbox)
    run_task(tasks.accounts_sync_task)
    org.close_account(AccountId=staging)

    run_task(tasks.accounts_sync_task, dave.pk)

    assert Account.objects.get(account_id=staging).status == AccountStatus.SUSPENDED
    adopted = Account.objects.get(account_id=sandbox)
    assert (adopted.name, adopted.source) == ("sandbox", AccountSource.ORGANIZATIONS)
    closed = AuditEvent.objects.get(action="account.updated", data__account_id=staging)
    assert closed.data["status"] == {"from": "ACTIVE", "to": "SUSPENDED"}
    assert closed.actor_id == dave.pk


def test_accounts_that_left_are_kept(ic, org, make_account):
    gone = make_account("old", source=AccountSource.ORGANIZATIONS)

    run_task(tasks.accounts_sync_task)

    assert Account.objects.filter(pk=gone.pk).exists()


def test_permanent_failure_is_written_to_the_audit_log(ic, org, register, dave):
    from tests.provisioning.conftest import Inject

    register(
        "before-send.organizations.ListRoots",
        Inject(times=10, code="AccessDeniedException", status=403),
    )

    assert run_task(tasks.accounts_sync_task, dave.pk) == "failed"

    event = AuditEvent.objects.get(action="account.sync_failed")
    assert "may not call organizations:ListRoots" in event.message
    assert event.actor_id == dave.pk
