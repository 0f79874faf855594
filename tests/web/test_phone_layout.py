"""On a phone, wide tables become one card per row: every cell named, nothing off-screen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accessgroups.access.services import membership_activated, membership_grant
from accessgroups.models import AccessGroupAccount, Membership, ProvisioningStatus
from accessgroups.reviews.services import access_review_open

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def active(alice, dave, readonly):
    """alice's ReadOnly, granted by dave through the services (so the audit log has it)."""
    membership = membership_grant(user=alice, access_group=readonly, granted_by=dave, justification="on call")
    membership_activated(membership_id=membership.pk)
    Membership.objects.filter(pk=membership.pk).update(provisioning_status=ProvisioningStatus.IN_SYNC)
    AccessGroupAccount.objects.update(provisioning_status=ProvisioningStatus.IN_SYNC)
    return membership


def test_approvers_revoke_button_is_on_screen_with_its_cells_named(new_page, login, bob, active):
    page = new_page(viewport=PHONE)
    login(page, bob)
    page.goto(reverse("web:approvals-access"))

    revoke = page.get_by_role("button", name="Revoke")
    expect(revoke).to_be_visible()
    box = revoke.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    # No sideways scrolling anywhere on the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Each cell shows the name of its column above it; the table is still a table to
    # assistive technology, with its header row.
    cell = page.locator('td[data-label="Access group"]')
    expect(cell).to_have_text("ReadOnly")
    assert cell.evaluate("c => getComputedStyle(c, '::before').content") == '"Access group"'
    expect(page.get_by_role("columnheader", name="Expires")).to_have_count(1)


@pytest.mark.parametrize(
    ("persona", "url_name"),
    [
        ("alice", "web:my-access"),
        ("bob", "web:approvals-access"),
        ("carol", "web:who-has-access"),
        ("carol", "web:audit-log"),
        ("dave", "web:manage-users"),
        ("dave", "web:manage-accounts"),
        ("dave", "web:manage-groups"),
    ],
)
def test_every_wide_table_fits_a_phone(new_page, login, request, active, persona, url_name):
    page = new_page(viewport=PHONE)
    login(page, request.getfixturevalue(persona))
    page.goto(reverse(url_name))

    _assert_stacked(page)


def _assert_stacked(page) -> None:
    """Every cell of a stacked table carries its column's name, and nothing scrolls sideways."""
    assert page.locator("table.stack").count() >= 1
    unnamed = page.locator("table.stack td:not([data-label])")
    expect(unnamed).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Nor does any table scroll sideways inside its own box.
    overflowing = page.evaluate(
        "[...document.querySelectorAll('table.stack')].map(t => t.parentElement)"
        ".filter(box => box.scrollWidth > box.clientWidth).length"
    )
    assert overflowing == 0


def test_a_reviewer_decides_on_a_phone(new_page, login, bob, carol, readonly, active):
    review = access_review_open(
        opened_by=carol, deadline=timezone.now() + timedelta(days=7), access_group=readonly
    )
    page = new_page(viewport=PHONE)
    login(page, bob)
    page.goto(reverse("web:reviews"))
    _assert_stacked(page)

    page.goto(reverse("web:review-detail", args=[review.pk]))
    _assert_stacked(page)
    keep = page.get_by_role("button", name="Keep")
    expect(keep).to_be_visible()
    box = keep.bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"], box
