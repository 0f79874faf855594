"""An access group's links from explicit accounts and OUs, through the catalogue services:
why each link exists, what is audited, what an approval bound to a version sees."""

from __future__ import annotations

import pytest

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.catalogue.services import access_group_update
from accessgroups.core.errors import Conflict
from accessgroups.models import (
    AccessGroupAccount,
    Account,
    AccountSource,
    AuditEvent,
    OrganizationalUnit,
)
from accessgroups.organizations.services import groups_follow_tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def units(db):
    root = OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root")
    workloads = OrganizationalUnit.objects.create(
        ou_id="ou-ab12-11111111", name="Workloads", parent=root, path="Root/Workloads"
    )
    prod = OrganizationalUnit.objects.create(
        ou_id="ou-ab12-22222222", name="Prod", parent=workloads, path="Root/Workloads/Prod"
    )
    return {"root": root, "workloads": workloads, "prod": prod}


def _account(account_id: str, name: str, unit, status: str = "ACTIVE") -> Account:
    return Account.objects.create(
        account_id=account_id, name=name, status=status, source=AccountSource.ORGANIZATIONS,
        parent_ou=unit, ou_path=unit.path,
    )


def links(group) -> dict[str, tuple[bool, bool]]:
    return {
        link.account.account_id: (link.explicit, link.from_ou)
        for link in AccessGroupAccount.objects.filter(access_group=group, valid_to__isnull=True)
        .select_related("account")
    }


def test_an_account_listed_and_under_an_ou_stays_while_either_holds_it(units, dave, make_group):
    api = _account("111111111111", "api", units["prod"])
    group = make_group("G")
    access_group_update(
        actor=dave, access_group=group, accounts=[api.account_id],
        organizational_units=[units["workloads"].ou_id],
    )
    assert links(group) == {api.account_id: (True, True)}
    link = AccessGroupAccount.objects.get(access_group=group)

    access_group_update(actor=dave, access_group=group, accounts=[])

    # The same link, now held by the OU alone: the assignment is never deleted and re-made.
    assert links(group) == {api.account_id: (False, True)}
    assert AccessGroupAccount.objects.get(access_group=group, valid_to__isnull=True).pk == link.pk
    assert not AuditEvent.objects.filter(action="account_link.removed").exists()


def test_suspended_accounts_under_an_ou_are_left_out_but_listed_ones_are_kept(units, dave, make_group):
    active = _account("111111111111", "active", units["prod"])
    suspended = _account("222222222222", "suspended", units["prod"], status="SUSPENDED")
    listed = _account("333333333333", "listed", units["root"], status="SUSPENDED")
    group = make_group("G")

    access_group_update(
        actor=dave, access_group=group, accounts=[listed.account_id],
        organizational_units=[units["prod"].ou_id],
    )

    assert links(group) == {active.account_id: (False, True), listed.account_id: (True, False)}
    assert suspended.account_id not in links(group)


def test_the_root_grants_every_active_account(units, dave, make_group):
    accounts = [_account(f"{n:012d}", f"a{n}", unit) for n, unit in enumerate(units.values(), 1)]
    group = make_group("Everything")

    access_group_update(actor=dave, access_group=group, organizational_units=[units["root"].ou_id])

    assert set(links(group)) == {a.account_id for a in accounts}


def test_archived_groups_do_not_follow_the_tree(units, dave, make_group):
    from django.utils import timezone

    from accessgroups.catalogue.services import access_group_archive

    group = make_group("G")
    access_group_update(actor=dave, access_group=group, organizational_units=[units["prod"].ou_id])
    access_group_archive(actor=dave, access_group=group)
    _account("111111111111", "late", units["prod"])

    assert groups_follow_tree(now=timezone.now()) == (0, 0, 0)


def test_an_approval_of_the_version_before_an_ou_change_names_it(units, alice, bob, dave, readonly):
    pending = access_request_create(requester=alice, access_group=readonly, justification="logs")
    seen = readonly.version
    access_group_update(
        actor=dave, access_group=readonly, organizational_units=[units["prod"].ou_id]
    )

    with pytest.raises(Conflict) as refused:
        access_request_approve(access_request=pending, approver=bob, access_group_version=seen)

    assert "organizational units" in refused.value.message
