"""Auditor and admin pages in a real browser: the CSV an auditor downloads, and an admin
correcting a refused access group form."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    Membership,
    MembershipSource,
    ProvisioningStatus,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_carol_filters_the_report_and_exports_the_same_rows(
    page, login, carol, alice, erin, dave, make_group, sandbox, make_account
):
    prod = make_account("prod")
    readonly = make_group("ReadOnly", accounts=[sandbox, prod])
    deploy = make_group("Deploy", accounts=[prod])
    AccessGroupAccount.objects.update(provisioning_status=ProvisioningStatus.IN_SYNC)
    now = timezone.now()
    for user, group in ((alice, readonly), (erin, deploy), (erin, readonly)):
        Membership.objects.create(
            user=user,
            access_group=group,
            source=MembershipSource.ADMIN,
            granted_by=dave,
            granted_at=now,
            activated_at=now,
            provisioning_status=ProvisioningStatus.IN_SYNC,
        )

    login(page, carol)
    page.goto("/")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Who has access")).to_be_visible()
    expect(page.locator("tr.report-row")).to_have_count(5)
    page.get_by_label("Account").fill(prod.account_id)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.report-row")).to_have_count(3)
    shown = [
        (row.get_attribute("data-username"), row.get_attribute("data-access-group"))
        for row in page.locator("tr.report-row").all()
    ]
    assert shown == [("alice", "ReadOnly"), ("erin", "Deploy"), ("erin", "ReadOnly")]

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text("utf-8"))))
    assert [(r["username"], r["access_group"]) for r in rows] == shown
    assert {r["account_id"] for r in rows} == {prod.account_id}
    assert {r["approved_by"] for r in rows} == {"dave"}


def test_dave_fixes_a_bad_session_duration_and_saves(page, login, dave, bob, sandbox, requested_syncs):
    login(page, dave)
    page.goto("/")
    page.get_by_role("link", name="Manage groups").click()
    page.get_by_role("link", name="New access group").click()
    page.get_by_label("Name").fill("Deploy")
    page.get_by_label("Description").fill("Deploys the app")
    page.get_by_role("group", name="Accounts").get_by_label(sandbox.label).check()
    page.get_by_label("AWS managed policies").fill("arn:aws:iam::aws:policy/ReadOnlyAccess")
    page.get_by_role("group", name="Approvers", exact=True).get_by_label("bob").check()
    page.get_by_label("Session duration").fill("PT13H")
    page.get_by_label("Maximum duration (hours)").fill("8")
    page.get_by_role("button", name="Review changes").click()

    field = page.get_by_label("Session duration")
    error = page.locator(".field", has=field).locator(".errorlist")
    expect(error).to_have_text("The session duration must be between PT1H and PT12H.")
    # What dave typed is kept; nothing was saved or sent to a worker.
    expect(field).to_have_value("PT13H")
    expect(page.get_by_label("Description")).to_have_value("Deploys the app")
    assert not AccessGroup.objects.exists()
    assert requested_syncs == []

    field.fill("PT4H")
    page.get_by_role("button", name="Review changes").click()
    # The plan of what saving does, then Save.
    expect(page.get_by_text("Create the permission set Deploy")).to_be_visible()
    assert not AccessGroup.objects.exists()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Deploy")).to_be_visible()
    expect(page.get_by_text("Access group Deploy created")).to_be_visible()
    group = AccessGroup.objects.get()
    assert (group.name, group.session_duration, group.max_duration_hours) == ("Deploy", "PT4H", 8)
    assert [a.account_id for a in group.current_accounts()] == [sandbox.account_id]
    assert list(group.approvers.values_list("username", flat=True)) == ["bob"]
    assert requested_syncs == [("access_group_sync_task", (group.pk,))]
    # Its provisioning status is shown in a word on the page.
    expect(page.locator("#ic-status ~ .status")).to_have_text("Pending")
