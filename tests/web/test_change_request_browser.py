"""In the browser, with CHANGE_APPROVAL=required: dave proposes a change on the group form,
frank (another admin) opens it from the menu and approves it, and it is applied."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accessgroups.models import AccessGroup, ChangeRequest

pytestmark = pytest.mark.django_db(transaction=True)


def test_dave_proposes_and_frank_approves(
    new_page, login, dave, make_user, developers, settings, requested_syncs
):
    settings.CHANGE_APPROVAL = "required"
    frank = make_user("frank", is_portal_admin=True)

    page = new_page()
    login(page, dave)
    page.goto(f"/manage/groups/{developers.pk}/edit/")
    page.get_by_label("Description").fill("Build and ship")
    page.get_by_role("button", name="Review changes").click()
    page.get_by_role("button", name="Propose change").click()
    expect(page.get_by_text("Change proposed; another admin must approve it")).to_be_visible()
    expect(page.locator(".change-line")).to_have_text(["Description: Build things → Build and ship"])
    expect(page.get_by_role("button", name="Approve and apply")).to_have_count(0)
    assert AccessGroup.objects.get(pk=developers.pk).description == "Build things"

    other = new_page()
    login(other, frank)
    other.goto("/")
    other.get_by_role("link", name="Changes (1)").click()
    other.get_by_role("link", name=f"#{ChangeRequest.objects.get().pk} Change").click()
    other.get_by_label("Comment (optional)").fill("looks right")
    other.get_by_role("button", name="Approve and apply").click()
    expect(other.get_by_text("Change approved and applied")).to_be_visible()
    expect(other.locator("#change-status")).to_have_text("Approved and applied")
    assert AccessGroup.objects.get(pk=developers.pk).description == "Build and ship"
    assert ChangeRequest.objects.get().decided_by == frank
