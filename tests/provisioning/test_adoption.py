"""manage.py import_identity_center: what a team built in Identity Center becomes portal rows."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accessgroups.core.audit import verify_chain
from accessgroups.models import (
    AccessGroup,
    Account,
    AccountSource,
    AuditEvent,
    Membership,
    MembershipSource,
    PolicyKind,
    ProvisioningStatus,
    User,
)
from provisioning import adoption
from tests.api.helpers import database_fingerprint
from tests.provisioning.adoption_state import (
    INLINE,
    OUTSIDE_ACCOUNT,
    POWER_USER,
    PRODUCTION,
    READ_ONLY,
    SECURITY_AUDIT,
    build,
)
from tests.provisioning.conftest import Inject

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def existing(ic):
    return build(ic)


@pytest.fixture
def portal(make_account, alice, make_user, dave):
    """What the portal holds before the import: production, alice (not onboarded), a bob
    linked to another Identity Center user, and dave the admin."""
    make_account("production", account_id=PRODUCTION)
    make_user("bob", identity_center_user_id="11111111-2222-3333-4444-555555555555")
    return {"alice": alice, "dave": dave}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_identity_center", *args, stdout=out)
    return out.getvalue()


def current(group: AccessGroup) -> tuple[set, set, list]:
    policies = group.current_policies()
    return (
        {p.arn for p in policies if p.kind == PolicyKind.AWS_MANAGED},
        {(p.path, p.name) for p in policies if p.kind == PolicyKind.CUSTOMER_MANAGED},
        [p.document for p in policies if p.kind == PolicyKind.INLINE],
    )


def test_import_adopts_groups_permission_sets_accounts_users_and_memberships(
    existing, portal, aws_calls, enqueued
):
    out = run("--actor", "dave")

    # Identity Center was only read, and nothing was sent to provisioning.
    assert aws_calls.writes() == []
    assert enqueued == []
    assert set(AccessGroup.objects.values_list("name", flat=True)) == {"Auditors", "Developers"}

    developers = AccessGroup.objects.get(name="Developers")
    assert developers.identity_center_group_id == existing.groups["Developers"]
    assert developers.permission_set_arn == existing.permission_sets["Developers"]
    assert developers.provisioning_status == ProvisioningStatus.IN_SYNC
    assert developers.synced_generation == developers.generation
    assert (developers.description, developers.session_duration) == ("Shop developers", "PT4H")
    assert developers.requestable is False
    assert list(developers.approvers.all()) == []
    assert current(developers) == ({READ_ONLY, POWER_USER}, {("/shop/", "ShopDeploy")}, [INLINE])
    assert {p.valid_from for p in developers.policies.all()} == {developers.created_at}
    # Its own assignments only: the Contractors group's assignment of the same permission set
    # (in production) is not Developers' account.
    links = developers.account_links.select_related("account")
    assert sorted(link.account.account_id for link in links) == sorted(
        [existing.accounts["shop-sandbox"], existing.accounts["shop-staging"], OUTSIDE_ACCOUNT]
    )
    assert {(link.valid_to, link.provisioning_status) for link in links} == {
        (None, ProvisioningStatus.IN_SYNC)
    }
    assert {link.valid_from for link in links} == {developers.created_at}

    auditors = AccessGroup.objects.get(name="Auditors")
    assert auditors.session_duration == "PT2H"
    assert current(auditors) == ({SECURITY_AUDIT}, set(), [])
    # ProdSupport's assignment of the Auditors permission set (in staging) is not Auditors'.
    assert [a.account_id for a in auditors.current_accounts()] == [PRODUCTION]

    # Accounts: named from Organizations where it knows them, else by their id.
    sandbox = Account.objects.get(account_id=existing.accounts["shop-sandbox"])
    assert (sandbox.name, sandbox.email, sandbox.source) == (
        "shop-sandbox",
        "shop-sandbox@example.com",
        AccountSource.ORGANIZATIONS,
    )
    outside = Account.objects.get(account_id=OUTSIDE_ACCOUNT)
    assert (outside.name, outside.source) == (OUTSIDE_ACCOUNT, AccountSource.MANUAL)
    assert Account.objects.get(account_id=PRODUCTION).name == "production"

    # Users: new ones from the identity store, alice linked, the rest left out.
    ada = User.objects.get(username="ada")
    assert (ada.email, ada.given_name, ada.family_name, ada.display_name) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "Ada Lovelace",
    )
    assert ada.identity_center_user_id == existing.users["ada"]
    assert ada.provisioning_status == ProvisioningStatus.IN_SYNC
    assert not ada.has_usable_password()
    alice = User.objects.get(username="alice")
    assert alice.identity_center_user_id == existing.users["alice"]
    assert alice.email == "alice@example.com"  # linked, not overwritten
    assert alice.has_usable_password()
    assert User.objects.get(username="bob").identity_center_user_id.startswith("11111111")
    assert not User.objects.filter(username__in=["linus", "mallory"]).exists()

    memberships = Membership.objects.select_related("user", "access_group")
    assert sorted((m.access_group.name, m.user.username) for m in memberships) == [
        ("Auditors", "grace"),
        ("Developers", "ada"),
        ("Developers", "alice"),
        ("Developers", "grace"),
    ]
    for m in memberships:
        assert m.source == MembershipSource.IMPORT
        assert m.justification == "Imported from IAM Identity Center"
        assert (m.granted_by, m.expires_at, m.duration_hours, m.ended_at) == (
            None,
            None,
            None,
            None,
        )
        assert m.activated_at == m.granted_at
        assert m.provisioning_status == ProvisioningStatus.IN_SYNC
        assert (
            m.identity_center_membership_id
            == existing.memberships[(m.access_group.name, m.user.username)]
        )

    events = AuditEvent.objects.exclude(action="account.created")
    assert sorted(e.action for e in events) == sorted(
        ["access_group.imported"] * 2
        + ["membership.imported"] * 4
        + ["user.imported"] * 2
        + ["user.linked"]
        + ["account.imported"] * 3
    )
    assert {e.actor_username for e in events} == {"dave"}
    assert verify_chain() is None

    lines = out.splitlines()
    # Auditors comes first: grace is a new user there, and already a portal user for Developers.
    assert "imported      Auditors: 1 member (1 new user, 0 linked), 1 account (0 new)" in lines
    assert "imported      Developers: 3 members (1 new user, 1 linked), 3 accounts (3 new)" in lines
    assert "  member left out: linus: it has no email address" in lines
    assert (
        "  note: the group has a description and its permission set none; the portal shows none "
        "and leaves the group's as it is" in lines
    )
    assert (
        "  member left out: mallory: its email address ALICE@example.com is already the portal "
        "user alice's" in lines
    )
    assert any(
        line.startswith("  member left out: bob: the portal user bob is linked to another")
        for line in lines
    )
    skipped = {line.split(":")[0].split()[-1]: line for line in lines if line.startswith("skipped")}
    assert set(skipped) == {"Contractors", "Science", "LongSessions", "BrokenInline", "ProdSupport"}
    assert "no permission set has this name" in skipped["Contractors"]
    assert "the portal does not accept this name" in skipped["Science"]
    assert (
        "session duration: The session duration must be between PT1H and PT12H."
        in skipped["LongSessions"]
    )
    assert "inline policy: The inline policy needs Statement." in skipped["BrokenInline"]
    assert "also holds other permission sets (Auditors in" in skipped["ProdSupport"]
    assert (
        "Imported 2 access groups (4 memberships, 2 new users, 1 linked user, 4 account links, "
        "3 new accounts); 5 skipped." in lines
    )
    assert "not requestable and have no approvers" in out


def test_dry_run_prints_the_plan_and_writes_nothing(existing, portal, aws_calls, enqueued):
    before = database_fingerprint()

    out = run("--dry-run", "--actor", "dave")

    assert database_fingerprint() == before
    assert aws_calls.writes() == []
    assert enqueued == []
    lines = out.splitlines()
    assert "would import  Developers: 3 members, 3 accounts (3 new)" in lines
    assert "would import  Auditors: 1 member, 1 account (0 new)" in lines
    assert "  member left out: linus: it has no email address" in lines
    assert sum(line.startswith("skipped") for line in lines) == 5
    assert (
        "Dry run: would import 2 access groups (4 memberships, 2 new users, 4 account links, "
        "3 new accounts); 5 skipped. Nothing was written." in lines
    )


def test_a_second_run_imports_nothing(existing, portal):
    run()
    before = database_fingerprint()

    out = run()

    assert database_fingerprint() == before
    assert "skipped       Developers: the portal already has the access group Developers" in out
    assert "skipped       Auditors: the portal already has the access group Auditors" in out
    assert "Imported 0 access groups" in out


def test_group_limits_the_import_to_the_groups_named(existing, portal):
    out = run("--group", "Auditors", "--group", "Nobody")

    assert list(AccessGroup.objects.values_list("name", flat=True)) == ["Auditors"]
    assert list(Membership.objects.values_list("user__username", flat=True)) == ["grace"]
    assert "skipped       Nobody: no identity store group has this name" in out
    assert "Developers" not in out
    # Without --actor the events name nobody.
    assert set(AuditEvent.objects.values_list("actor_username", flat=True)) - {""} == set()


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_an_actor_who_is_not_an_admin_is_refused(existing, portal, username, aws_calls):
    before = database_fingerprint()

    with pytest.raises(CommandError, match="--actor"):
        run("--actor", username)

    assert database_fingerprint() == before
    assert aws_calls.calls == []


def test_every_list_call_is_paged(existing, portal, aws_calls, monkeypatch):
    monkeypatch.setattr(adoption, "PAGE_SIZE", 2)

    run()

    # Seven groups, six permission sets and six members of Developers: pages of two.
    assert aws_calls.count("ListGroups") == 4
    assert aws_calls.count("ListPermissionSets") == 3
    developers = {"GroupId": existing.groups["Developers"]}
    assert (
        sum(
            1
            for p in aws_calls.named("ListGroupMemberships")
            if p["GroupId"] == developers["GroupId"]
        )
        == 3
    )
    assert all(
        p.get("MaxResults") == 2 for p in aws_calls.named("ListAccountAssignmentsForPrincipal")
    )
    assert sorted(
        (m.access_group.name, m.user.username)
        for m in Membership.objects.select_related("user", "access_group")
    ) == [
        ("Auditors", "grace"),
        ("Developers", "ada"),
        ("Developers", "alice"),
        ("Developers", "grace"),
    ]
    assert AccessGroup.objects.get(name="Developers").account_links.count() == 3
    assert current(AccessGroup.objects.get(name="Developers"))[0] == {READ_ONLY, POWER_USER}


def test_a_group_that_cannot_be_read_is_skipped_and_the_others_imported(existing, portal, register):
    # The first group read in full (Auditors, in name order) meets a refusal.
    register("before-send.identitystore.ListGroupMemberships", Inject(1, "AccessDeniedException"))

    out = run()

    assert "skipped       Auditors: could not read it from Identity Center" in out
    assert list(AccessGroup.objects.values_list("name", flat=True)) == ["Developers"]


def test_when_identity_center_cannot_be_read_the_command_fails(existing, portal, register):
    register("before-send.identitystore.ListGroups", Inject(1, "AccessDeniedException"))
    before = database_fingerprint()

    with pytest.raises(CommandError, match="Could not read IAM Identity Center"):
        run()

    assert database_fingerprint() == before
