"""In the browser: the navigation keeps one row for an admin at 1280 px, a phone gets a
Menu button and no sideways scrolling, and the new pages keep to the accessibility basics."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accessgroups.core.audit import audit_record
from accessgroups.models import AccessGroupPolicy, PolicyKind

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def test_an_admins_navigation_fits_one_row(new_page, login, dave):
    page = new_page(viewport=DESKTOP)
    login(page, dave)
    page.goto(reverse("web:catalogue"))
    tops = page.evaluate(
        "[...document.querySelectorAll('.nav a')].map(a => a.getBoundingClientRect().top)"
    )
    assert len(tops) >= 12 and max(tops) - min(tops) < 4, tops
    # Opening another page moves nothing: the row is as wide with another current item.
    before = page.evaluate(
        "[...document.querySelectorAll('.nav a')].map(a => a.getBoundingClientRect().left)"
    )
    page.get_by_role("link", name="Audit log").click()
    after = page.evaluate(
        "[...document.querySelectorAll('.nav a')].map(a => a.getBoundingClientRect().left)"
    )
    assert before == after


def test_a_phone_gets_a_menu_and_a_short_header(new_page, login, dave):
    page = new_page(viewport=PHONE)
    login(page, dave)
    page.goto(reverse("web:catalogue"))
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 120, header
    expect(page.get_by_role("link", name="Audit log")).to_be_hidden()
    page.locator(".menu > summary").click()
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_group_page_does_not_scroll_sideways_on_a_phone(
    new_page, login, dave, make_group, sandbox
):
    group = make_group(
        "LongPolicies",
        accounts=[sandbox],
        policies=(
            "arn:aws:iam::aws:policy/service-role/AWSApplicationMigrationReplicationServerPolicy",
        ),
    )
    page = new_page(viewport=PHONE)
    login(page, dave)
    page.goto(reverse("web:manage-group-detail", args=[group.pk]))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
def test_the_approval_card_and_audit_log_fit(
    new_page, login, alice, bob, carol, dave, readonly, viewport
):
    from accessgroups.access import services

    AccessGroupPolicy.objects.create(
        access_group=readonly,
        kind=PolicyKind.INLINE,
        document={"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    )
    services.access_request_create(requester=alice, access_group=readonly, justification="x")
    audit_record(
        action="access_group.updated",
        actor=dave,
        obj=readonly,
        access_group=readonly,
        data={
            "version": {"from": 1, "to": 2},
            "inline_policy": {"Statement": [{"Action": "*" * 300}]},
        },
    )
    page = new_page(viewport=viewport)
    login(page, bob)
    page.goto(reverse("web:approvals"))
    expect(page.locator(".card.risk-high-card")).to_be_visible()
    expect(page.get_by_text("High risk: allows every action")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    login(page, carol)
    page.goto(reverse("web:audit-log"))
    expect(page.get_by_role("link", name="ReadOnly").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    # The time stays on one line.
    when = page.locator("td[data-label='When (UTC)'] time").first.bounding_box()
    assert when["height"] < 30, when
