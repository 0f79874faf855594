"""Accounts by organizational unit: the tree read from AWS Organizations (moto in-process),
and access groups whose accounts follow it from one sync to the next."""

from __future__ import annotations

import boto3
import pytest

from accessgroups.catalogue.services import access_group_update
from accessgroups.models import (
    AccessGroupAccount,
    Account,
    AuditEvent,
    OrganizationalUnit,
    OrganizationsSync,
)
from provisioning import tasks
from tests.provisioning.conftest import REGION, aws_error_response, run_task

pytestmark = pytest.mark.django_db(transaction=True)


class Org:
    """An organisation in moto: Root / Workloads / {Prod, Dev}, Sandbox; accounts by name."""

    def __init__(self) -> None:
        self.client = boto3.client("organizations", region_name=REGION)
        self.client.create_organization(FeatureSet="ALL")
        self.root = self.client.list_roots()["Roots"][0]["Id"]
        self.workloads = self.ou("Workloads", self.root)
        self.prod = self.ou("Prod", self.workloads)
        self.dev = self.ou("Dev", self.workloads)
        self.sandbox = self.ou("Sandbox", self.root)

    def ou(self, name: str, parent: str) -> str:
        return self.client.create_organizational_unit(ParentId=parent, Name=name)[
            "OrganizationalUnit"
        ]["Id"]

    def account(self, name: str, parent: str | None = None) -> str:
        account_id = self.client.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        if parent:
            self.move(account_id, parent)
        return account_id

    def move(self, account_id: str, to: str) -> None:
        source = self.client.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        self.client.move_account(AccountId=account_id, SourceParentId=source, DestinationParentId=to)


@pytest.fixture
def org(ic, settings) -> Org:
    # The tests count calls; waiting for the fleet's 5 calls per second would only slow them.
    settings.ORGANIZATIONS_TPS = 1000
    return Org()


def current(group) -> dict[str, tuple[bool, bool]]:
    return {
        link.account.account_id: (link.explicit, link.from_ou)
        for link in AccessGroupAccount.objects.filter(access_group=group, valid_to__isnull=True)
        .select_related("account")
    }


def test_sync_stores_nested_units_paths_and_accounts(org, aws_calls):
    api = org.account("api", org.prod)
    web = org.account("web", org.dev)

    assert run_task(tasks.accounts_sync_task) == "in_sync"

    paths = dict(OrganizationalUnit.objects.values_list("ou_id", "path"))
    assert paths == {
        org.root: "Root",
        org.workloads: "Root/Workloads",
        org.prod: "Root/Workloads/Prod",
        org.dev: "Root/Workloads/Dev",
        org.sandbox: "Root/Sandbox",
    }
    assert Account.objects.get(account_id=api).ou_path == "Root/Workloads/Prod"
    assert Account.objects.get(account_id=web).parent_ou.ou_id == org.dev
    # ListRoots, then one page of OUs and one of accounts for each of the 5 parents.
    assert aws_calls.count("ListRoots") == 1
    assert aws_calls.count("ListOrganizationalUnitsForParent") == 5
    assert aws_calls.count("ListAccountsForParent") == 5
    assert {c["MaxResults"] for c in aws_calls.named("ListAccountsForParent")} == {20}
    last = OrganizationsSync.objects.first()
    assert (last.succeeded, last.calls, last.organizational_units) == (True, 11, 5)


def test_group_accounts_follow_creations_moves_and_suspensions(org, dave, make_group, enqueued):
    api = org.account("api", org.prod)
    web = org.account("web", org.dev)
    stays = org.account("stays", org.prod)
    leaves = org.account("leaves", org.dev)
    outside = org.account("outside", org.sandbox)
    run_task(tasks.accounts_sync_task)
    group = make_group("Workloads")
    access_group_update(
        actor=dave, access_group=group, organizational_units=[org.workloads], accounts=[outside]
    )
    # Saved with an OU, the group grants its accounts at once, from the stored tree.
    assert current(group) == {
        api: (False, True),
        web: (False, True),
        stays: (False, True),
        leaves: (False, True),
        outside: (True, False),
    }

    new = org.account("new", org.dev)  # created into a targeted OU
    org.move(leaves, org.sandbox)  # leaves it
    org.move(outside, org.prod)  # an explicit account moves in: now both
    org.client.close_account(AccountId=web)  # suspended
    enqueued.clear()
    run_task(tasks.accounts_sync_task, dave.pk)

    assert current(group) == {
        api: (False, True),
        stays: (False, True),
        new: (False, True),
        outside: (True, True),
    }
    ended = AccessGroupAccount.objects.filter(access_group=group, valid_to__isnull=False)
    assert {link.account.account_id for link in ended} == {web, leaves}
    assert {link.provisioning_status for link in ended} == {"pending"}
    events = AuditEvent.objects.filter(action__startswith="account_link.", created_at__gte=ended[0].valid_to)
    assert {(e.action, e.data["account_id"]) for e in events} == {
        ("account_link.added", new),
        ("account_link.removed", web),
        ("account_link.removed", leaves),
    }
    added = events.get(action="account_link.added")
    assert added.data == {
        "account": f"new ({new})",
        "account_id": new,
        "ou_path": "Root/Workloads/Dev",
        "reason": "OU",
    }
    assert added.access_group_id == group.pk
    assert ("access_group_sync_task", (group.pk,)) in enqueued
    # The group's version tracks its own configuration, not the organisation's moves.
    group.refresh_from_db()
    assert group.version == 2


def test_removing_the_ou_keeps_explicit_accounts(org, dave, make_group):
    api = org.account("api", org.prod)
    web = org.account("web", org.dev)
    run_task(tasks.accounts_sync_task)
    group = make_group("Prod")
    access_group_update(
        actor=dave, access_group=group, organizational_units=[org.workloads], accounts=[api]
    )
    assert current(group) == {api: (True, True), web: (False, True)}

    access_group_update(actor=dave, access_group=group, organizational_units=[])
    assert current(group) == {api: (True, False)}

    access_group_update(actor=dave, access_group=group, organizational_units=[org.prod], accounts=[])
    assert current(group) == {api: (False, True)}


def test_a_failed_read_keeps_the_previous_state_and_shows_the_error(org, dave, make_group, register):
    api = org.account("api", org.prod)
    run_task(tasks.accounts_sync_task)
    group = make_group("Prod")
    access_group_update(actor=dave, access_group=group, organizational_units=[org.prod])
    org.move(api, org.sandbox)
    org.account("new", org.prod)
    seen = []

    def fail_the_third(request, **_):
        seen.append(1)
        if len(seen) == 3:
            request.url = "https://injected.invalid/"
            return aws_error_response("InvalidInputException", 400, "Organizations is down")
        return None

    register("before-send.organizations.ListAccountsForParent", fail_the_third)
    before = Account.objects.count()

    assert run_task(tasks.accounts_sync_task, dave.pk) == "failed"

    assert Account.objects.count() == before
    assert Account.objects.get(account_id=api).ou_path == "Root/Workloads/Prod"
    assert current(group) == {api: (False, True)}
    last = OrganizationsSync.objects.first()
    assert not last.succeeded and "Organizations is down" in last.error
    assert AuditEvent.objects.filter(action="account.sync_failed").count() == 1


def test_an_ou_the_portal_cannot_read_keeps_its_accounts_and_is_marked(org, register):
    api = org.account("api", org.prod)
    run_task(tasks.accounts_sync_task)
    org.move(api, org.dev)

    def deny_prod(request, **_):
        if org.prod.encode() in request.body:
            request.url = "https://injected.invalid/"
            return aws_error_response("AccessDeniedException", 403, "denied by an SCP")
        return None

    register("before-send.organizations.ListOrganizationalUnitsForParent", deny_prod)
    assert run_task(tasks.accounts_sync_task) == "in_sync"

    prod = OrganizationalUnit.objects.get(ou_id=org.prod)
    assert "denied by an SCP" in prod.read_error and prod.gone_at is None
    # Dev was read: the account is where AWS now says it is.
    assert Account.objects.get(account_id=api).ou_path == "Root/Workloads/Dev"


def test_point_in_time_who_has_access_before_and_after_a_move(org, dave, alice, make_group, grant):
    from django.utils import timezone

    from accessgroups.reports.selectors import who_has_access

    api = org.account("api", org.prod)
    web = org.account("web", org.prod)
    run_task(tasks.accounts_sync_task)
    group = make_group("Prod")
    access_group_update(actor=dave, access_group=group, organizational_units=[org.prod])
    grant(alice, group, provisioning_status="in_sync")
    AccessGroupAccount.objects.filter(access_group=group).update(provisioning_status="in_sync")
    before_move = timezone.now()
    org.move(api, org.sandbox)
    run_task(tasks.accounts_sync_task)
    after_move = timezone.now()

    def granted(at):
        return sorted((r["account_id"], r["account_ou_path"]) for r in who_has_access(at=at, user=alice))

    # Then: both accounts; the path column is where the account is today.
    assert granted(before_move) == sorted([(api, "Root/Sandbox"), (web, "Root/Workloads/Prod")])
    assert granted(after_move) == [(web, "Root/Workloads/Prod")]


def test_an_account_that_left_the_organization_is_kept_and_leaves_the_group(org, dave, make_group):
    api = org.account("api", org.prod)
    web = org.account("web", org.prod)
    run_task(tasks.accounts_sync_task)
    group = make_group("Prod")
    access_group_update(actor=dave, access_group=group, organizational_units=[org.prod])
    org.client.remove_account_from_organization(AccountId=api)

    run_task(tasks.accounts_sync_task)

    left = Account.objects.get(account_id=api)
    assert (left.parent_ou, left.ou_path) == (None, "")
    assert current(group) == {web: (False, True)}
    assert AuditEvent.objects.filter(action="account_link.removed", data__account_id=api).exists()


def test_calls_stay_under_the_fleet_wide_rate(org, settings, aws_calls):
    settings.ORGANIZATIONS_TPS = 4

    run_task(tasks.accounts_sync_task)

    times = [t for t, service in aws_calls.attempt_times if service == "organizations"]
    assert len(times) == 11
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) <= 4


def test_unreachable_organizations_is_shown_at_once_and_audited_only_when_given_up(org, register):
    from provisioning.errors import TransientError
    from provisioning.organizations import organizations_sync
    from tests.provisioning.conftest import Inject

    org.account("api", org.prod)
    run_task(tasks.accounts_sync_task)
    accounts = Account.objects.count()
    register("before-send.organizations.ListRoots", Inject(times=3, code="ServiceUnavailableException", status=503))

    with pytest.raises(TransientError):
        organizations_sync()

    last = OrganizationsSync.objects.first()
    assert not last.succeeded and "ListRoots" in last.error
    assert Account.objects.count() == accounts
    # The task retries for a while; the audit log hears of it once the task gives up.
    assert not AuditEvent.objects.filter(action="account.sync_failed").exists()
