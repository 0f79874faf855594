"""A realistic set of access groups for the configuration-as-code tests, made through the
catalogue's services as an admin would: accounts listed and by OU, every policy kind,
approvers by name and by group, eligibility by group, quorum, risk, break-glass."""

from __future__ import annotations

import pytest

from accessgroups.catalogue.services import access_group_create
from accessgroups.models import Account, AccountSource, OrganizationalUnit

INLINE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
    ],
}
DESCRIPTION = "Builds things — für Entwickler 🚀\nSecond line: ask #platform first.\n"


@pytest.fixture
def units(db):
    root = OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root")
    workloads = OrganizationalUnit.objects.create(
        ou_id="ou-ab12-11111111", name="Workloads", parent=root, path="Root/Workloads"
    )
    return {"root": root, "workloads": workloads}


@pytest.fixture
def estate(dave, bob, erin, units, ic_group, linked):
    """Three live access groups (Developers, Billing, ReadOnly) and one archived (Old)."""
    accounts = [
        Account.objects.create(account_id=f"11111111111{n}", name=f"acct-{n}") for n in range(3)
    ]
    Account.objects.create(
        account_id="222222222222",
        name="api-prod",
        source=AccountSource.ORGANIZATIONS,
        parent_ou=units["workloads"],
        ou_path=units["workloads"].path,
    )
    ic_group("Platform", members=[linked(bob), linked(erin)])
    ic_group("Engineering")
    developers = access_group_create(
        actor=dave,
        name="Developers",
        description=DESCRIPTION,
        accounts=[accounts[0].account_id, accounts[1].account_id],
        organizational_units=[units["workloads"].ou_id],
        aws_managed_policies=[
            "arn:aws:iam::aws:policy/PowerUserAccess",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ],
        customer_managed_policies=[{"name": "deploy", "path": "/team/"}, {"name": "logs"}],
        inline_policy=INLINE,
        session_duration="PT4H",
        approvers=["bob", "erin"],
        approver_groups=["Platform"],
        eligible_groups=["Engineering"],
        approvals_required=2,
        risk="high",
        break_glass=True,
        max_duration_hours=8,
        applications_note="Grafana (attached by hand)",
    )
    billing = access_group_create(
        actor=dave,
        name="Billing",
        accounts=[accounts[2].account_id],
        aws_managed_policies=["arn:aws:iam::aws:policy/job-function/Billing"],
        session_duration="PT1H30M",
        approvers=["bob"],
        auto_approve=True,
        risk="low",
    )
    readonly = access_group_create(
        actor=dave,
        name="ReadOnly",
        aws_managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        requestable=False,
    )
    old = access_group_create(actor=dave, name="Old", approvers=["bob"])
    from accessgroups.catalogue.services import access_group_archive

    access_group_archive(actor=dave, access_group=old)
    return {"Developers": developers, "Billing": billing, "ReadOnly": readonly, "accounts": accounts}
