"""In the browser: dave asks for a sync from AWS Organizations and the Accounts page shows
its progress, then its result and the accounts it read, without his reloading it."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accessgroups.models import Account, AccountSource, OrganizationsSync

pytestmark = pytest.mark.django_db(transaction=True)


def test_dave_watches_a_sync_finish(page, login, dave, requested_syncs):
    login(page, dave)
    page.goto("/manage/accounts/")
    page.get_by_role("button", name="Sync from AWS Organizations").click()
    expect(page.get_by_text("Reading the accounts from AWS Organizations")).to_be_visible()
    assert requested_syncs == [("accounts_sync_task", (dave.pk,))]
    # Marks this very page: a reload would lose it.
    page.evaluate("window.stillTheSamePage = true")

    # What the worker writes when it has read the organisation.
    Account.objects.create(
        account_id="123456789012", name="payments", source=AccountSource.ORGANIZATIONS
    )
    OrganizationsSync.objects.create(
        finished_at=timezone.now(), accounts=1, organizational_units=1, calls=2
    )

    expect(page.get_by_text("1 account in 1 root and OUs, 2 calls")).to_be_visible()
    expect(page.get_by_role("cell", name="payments")).to_be_visible()
    expect(page.get_by_text("Reading the accounts from AWS Organizations")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("#accounts-live")).not_to_have_attribute("hx-get", "/manage/accounts/")
