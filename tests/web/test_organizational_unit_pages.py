"""Admin pages and OUs: the last Organizations sync on the Accounts page, the group form's
OU picker, accounts named "name (id) · OU path"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.models import AccessGroup, AccessGroupAccount, Account, OrganizationalUnit, OrganizationsSync

pytestmark = pytest.mark.django_db


@pytest.fixture
def prod(db):
    root = OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root")
    return OrganizationalUnit.objects.create(
        ou_id="ou-ab12-11111111", name="Prod", parent=root, path="Root/Prod"
    )


def test_accounts_page_shows_a_failed_sync_and_the_last_good_one(client_for, dave):
    earlier = timezone.now() - timedelta(hours=1)
    OrganizationsSync.objects.create(started_at=earlier, finished_at=earlier, accounts=3)
    OrganizationsSync.objects.create(finished_at=timezone.now(), error="Could not reach AWS organizations")

    page = client_for(dave).get(reverse("web:manage-accounts")).content.decode()

    assert "failed: Could not reach AWS organizations" in page
    assert f"Accounts and OUs stay as read at {earlier:%Y-%m-%d %H:%M} UTC" in page


def test_the_group_form_picks_ous_and_keeps_explicit_accounts_apart(
    client_for, alice, dave, prod, make_account
):
    api = make_account("api", parent_ou=prod, ou_path=prod.path)
    listed = make_account("listed")
    client = client_for(dave)

    response = client.post(
        reverse("web:manage-group-create"),
        {
            "name": "Prod",
            "accounts": [listed.account_id],
            "organizational_units": [prod.ou_id],
            "session_duration": "PT1H",
            "requestable": "on",
            "approvers": [alice.username],
        },
    )

    assert response.status_code == 302, response.context["form"].errors
    links = {
        link.account_id: (link.explicit, link.from_ou)
        for link in AccessGroupAccount.objects.filter(valid_to__isnull=True)
    }
    assert links == {api.pk: (False, True), listed.pk: (True, False)}
    group = AccessGroup.objects.get(name="Prod")
    initial = client.get(reverse("web:manage-group-edit", args=[group.pk])).context["form"].initial
    # The form lists only the accounts chosen by hand: those the OU brings follow the OU.
    assert initial["accounts"] == [listed.account_id]
    assert initial["organizational_units"] == [prod.ou_id]


def test_groups_page_names_accounts_with_their_ou_path(client_for, dave, prod, make_group):
    api = Account.objects.create(account_id="111111111111", name="api", parent_ou=prod, ou_path=prod.path)
    make_group("Prod", accounts=[api])

    page = client_for(dave).get(reverse("web:manage-groups")).content.decode()

    assert "api (111111111111) · Root/Prod" in page


def test_the_audit_log_names_accounts_with_their_ou_path(client_for, carol, prod):
    from accessgroups.core.audit import audit_record

    api = Account.objects.create(account_id="111111111111", name="api", parent_ou=prod, ou_path=prod.path)
    audit_record(action="account_link.added", obj=api, data={"account": str(api), "reason": "OU"})

    page = client_for(carol).get(reverse("web:audit-log")).content.decode()

    # The object named by its label, linked to its own events.
    assert ">api (111111111111) · Root/Prod</a>" in page


def test_the_provisioning_page_shows_the_last_sync(client_for, dave):
    OrganizationsSync.objects.create(finished_at=timezone.now(), error="AWS refused ListRoots")

    page = client_for(dave).get(reverse("web:manage-provisioning")).content.decode()

    assert "failed: AWS refused ListRoots" in page
