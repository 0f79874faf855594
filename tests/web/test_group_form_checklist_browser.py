"""In the browser: dave picks accounts and approvers on the group form by ticking boxes,
narrowing a long list with its filter box."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accessgroups.models import AccessGroup, Account

pytestmark = pytest.mark.django_db(transaction=True)


def test_dave_filters_the_accounts_and_ticks_two(page, login, dave, bob, requested_syncs):
    Account.objects.bulk_create(
        Account(account_id=f"{200000000000 + n}", name=f"team-{n:03d}") for n in range(300)
    )
    payments = Account.objects.create(account_id="300000000001", name="payments-prod")
    ledger = Account.objects.create(account_id="300000000002", name="ledger-prod")
    login(page, dave)
    page.goto("/manage/groups/new/")
    page.get_by_label("Name").fill("Deploy")
    page.get_by_label("AWS managed policies").fill("arn:aws:iam::aws:policy/ReadOnlyAccess")

    accounts = page.get_by_role("group", name="Accounts")
    boxes = accounts.get_by_role("checkbox")
    expect(boxes).to_have_count(302)
    accounts.get_by_label("Filter accounts").fill("-prod")
    expect(accounts.get_by_text("2 of 302 shown, 0 chosen")).to_be_visible()
    expect(accounts.locator("li:visible")).to_have_count(2)
    # Enter in the filter box filters; it does not send the form.
    accounts.get_by_label("Filter accounts").press("Enter")
    accounts.get_by_label(payments.label).check()
    accounts.get_by_label(ledger.label).check()
    expect(accounts.get_by_text("2 of 302 shown, 2 chosen")).to_be_visible()
    accounts.get_by_label("Filter accounts").fill("")
    expect(accounts.locator("li:visible")).to_have_count(302)

    page.get_by_role("group", name="Approvers", exact=True).get_by_label("bob").check()
    page.get_by_role("button", name="Review changes").click()
    plan = page.get_by_role("region", name="What saving does")
    expect(plan.get_by_text("Create 2 account assignments: payments-prod (300000000001), ledger-prod (300000000002)")).to_be_visible()
    # The boxes come back ticked on the plan step, and Save saves what was reviewed.
    expect(page.get_by_role("group", name="Accounts").get_by_label(payments.label)).to_be_checked()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Access group Deploy created")).to_be_visible()
    group = AccessGroup.objects.get()
    assert {a.account_id for a in group.current_accounts()} == {"300000000001", "300000000002"}
    assert list(group.approvers.values_list("username", flat=True)) == ["bob"]


def test_without_javascript_the_boxes_still_work(new_page, login, dave, bob, sandbox):
    page = new_page(java_script_enabled=False)
    login(page, dave)
    page.goto("/manage/groups/new/")
    accounts = page.get_by_role("group", name="Accounts")
    expect(accounts.get_by_role("searchbox")).to_have_count(0)
    accounts.get_by_label(sandbox.label).check()
    expect(accounts.get_by_label(sandbox.label)).to_be_checked()
