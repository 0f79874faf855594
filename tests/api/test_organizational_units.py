"""OU targeting through the API: the tree, accounts' OU paths, access groups by OU."""

from __future__ import annotations

import pytest

from accessgroups.models import AccessGroupAccount, Account, AccountSource, OrganizationalUnit
from tests.api.helpers import assert_bad_input, database_fingerprint

ROOT, WORKLOADS, PROD = "r-ab12", "ou-ab12-11111111", "ou-ab12-22222222"
DENIED, GONE = "ou-ab12-33333333", "ou-ab12-44444444"


@pytest.fixture
def tree(db):
    """The tree as a sync stores it: Root / Workloads / Prod, an unreadable and a gone OU."""
    from django.utils import timezone

    root = OrganizationalUnit.objects.create(ou_id=ROOT, name="Root", path="Root")
    workloads = OrganizationalUnit.objects.create(
        ou_id=WORKLOADS, name="Workloads", parent=root, path="Root/Workloads"
    )
    prod = OrganizationalUnit.objects.create(
        ou_id=PROD, name="Prod", parent=workloads, path="Root/Workloads/Prod"
    )
    OrganizationalUnit.objects.create(
        ou_id=DENIED, name="Secret", parent=root, path="Root/Secret", read_error="AWS refused it."
    )
    OrganizationalUnit.objects.create(
        ou_id=GONE, name="Old", parent=root, path="Root/Old", gone_at=timezone.now()
    )

    def account(account_id: str, name: str, unit, status: str = "ACTIVE") -> Account:
        return Account.objects.create(
            account_id=account_id,
            name=name,
            status=status,
            source=AccountSource.ORGANIZATIONS,
            parent_ou=unit,
            ou_path=unit.path,
        )

    return {
        "api": account("111111111111", "api", prod),
        "tools": account("222222222222", "tools", workloads),
        "closed": account("333333333333", "closed", prod, status="SUSPENDED"),
        "billing": account("444444444444", "billing", root),
    }


def test_the_tree_is_listed_for_everyone_signed_in(api, alice, tree):
    response = api(alice).get("/api/v1/organizational-units/")

    assert response.status_code == 200
    units = {u["id"]: u for u in response.data["results"]}
    assert set(units) == {ROOT, WORKLOADS, PROD, DENIED}  # the gone one is left out
    assert units[PROD] == {
        "id": PROD,
        "name": "Prod",
        "parent": WORKLOADS,
        "path": "Root/Workloads/Prod",
        "accounts_count": 2,
        "active_accounts_count": 1,
        "read_error": "",
        "last_seen_at": units[PROD]["last_seen_at"],
    }
    assert units[ROOT]["parent"] is None
    assert api(None).get("/api/v1/organizational-units/").status_code in (401, 403)


def test_accounts_show_their_ou(api, alice, tree):
    response = api(alice).get("/api/v1/accounts/111111111111/")
    assert (response.data["ou_id"], response.data["ou_path"]) == (PROD, "Root/Workloads/Prod")


def test_a_group_by_ou_grants_the_active_accounts_under_it_at_once(
    api, alice, dave, tree, requested_syncs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(dave).post(
            "/api/v1/access-groups/",
            {
                    "name": "Workloads",
                    "organizational_units": [WORKLOADS],
                    "accounts": ["444444444444"],
                    "approvers": ["alice"],
                },
            format="json",
        )

    assert response.status_code == 202, response.data
    assert response.data["organizational_units"] == [WORKLOADS]
    assert response.data["accounts"] == ["444444444444"]
    reasons = {s["account_id"]: s["reason"] for s in response.data["account_status"]}
    assert reasons == {"111111111111": "ou", "222222222222": "ou", "444444444444": "explicit"}
    assert requested_syncs == [("access_group_sync_task", (response.data["id"],))]


@pytest.mark.parametrize(
    ("units", "words"),
    [
        (["ou-ab12-99999999"], "Unknown organizational unit"),
        ([GONE], "Unknown organizational unit"),
        (["workloads"], "Not an OU or root id"),
        ([WORKLOADS, WORKLOADS], "listed once"),
        ([DENIED], "could not read ou-ab12-33333333 in the last sync: AWS refused it."),
    ],
)
def test_bad_organizational_units_are_refused_naming_the_field(api, dave, tree, units, words):
    client = api(dave)
    before = database_fingerprint()

    response = client.post(
        "/api/v1/access-groups/", {"name": "Bad", "organizational_units": units}, format="json"
    )

    assert_bad_input(response, "organizational_units", before)
    assert words in str(response.data["organizational_units"])


def test_changing_the_ous_bumps_the_version(api, alice, dave, tree, requested_syncs):
    created = (
        api(dave)
        .post("/api/v1/access-groups/", {"name": "G", "approvers": ["alice"]}, format="json")
        .data
    )

    response = api(dave).patch(
        f"/api/v1/access-groups/{created['id']}/", {"organizational_units": [PROD]}, format="json"
    )

    assert response.status_code == 202, response.data
    assert AccessGroupAccount.objects.filter(
        access_group_id=created["id"], valid_to__isnull=True, from_ou=True
    ).count() == 1
    from accessgroups.models import AccessGroup

    assert AccessGroup.objects.get(pk=created["id"]).version == 2
