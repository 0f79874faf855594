"""In the browser: a double click sends a form once; destructive actions ask first, with and
without JavaScript; the focus ring is visible against the page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accessgroups.models import AccessRequest, Membership, RequestStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_double_click_sends_the_request_once(page, login, alice, readonly):
    login(page, alice)
    page.goto(reverse("web:request-create", args=[readonly.pk]))
    page.get_by_label("Justification").fill("Investigate the billing alarm")
    page.get_by_role("button", name="Submit request").dblclick()
    expect(page.locator(".request .status")).to_have_text("Pending")
    expect(page.locator(".message-error")).to_have_count(0)
    assert AccessRequest.objects.count() == 1


def test_a_sent_forms_buttons_are_disabled(page, login, alice, readonly):
    login(page, alice)
    page.goto(reverse("web:request-create", args=[readonly.pk]))
    page.get_by_label("Justification").fill("x")
    # Stay on the page so that the disabled state can be seen: a listener added after the
    # portal's own cancels the navigation once the portal's has run.
    page.evaluate("document.addEventListener('submit', (event) => event.preventDefault())")
    button = page.get_by_role("button", name="Submit request")
    button.click()
    expect(button).to_be_disabled()
    assert AccessRequest.objects.count() == 0


def test_revoke_asks_first_and_going_back_changes_nothing(page, login, alice, bob, readonly, grant):
    membership = grant(alice, readonly)
    login(page, bob)
    page.goto(reverse("web:approvals-access"))
    page.get_by_role("row", name="alice in ReadOnly").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("heading", name="Revoke alice's access to ReadOnly?")).to_be_visible()
    page.get_by_role("link", name="Go back").click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    membership.refresh_from_db()
    assert membership.ended_at is None
    page.get_by_role("row", name="alice in ReadOnly").get_by_role("button", name="Revoke").click()
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_text("access to ReadOnly is being removed")).to_be_visible()
    assert Membership.objects.get().ended_at is not None


def test_confirmation_works_without_javascript(new_page, login, alice, bob, readonly):
    from accessgroups.access import services

    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    page = new_page(java_script_enabled=False)
    login(page, bob)
    page.goto(reverse("web:approvals"))
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", name="Reject alice's request for ReadOnly?")).to_be_visible()
    page.get_by_label("Reason (the requester sees it)").fill("not for this project")
    page.get_by_role("button", name="Reject request").click()
    expect(page.get_by_text("You rejected alice's request for ReadOnly.")).to_be_visible()
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    def luminance(rgb: tuple[int, int, int]) -> float:
        def channel(c: int) -> float:
            c = c / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b_ = (channel(c) for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rgb(css: str) -> tuple[int, int, int]:
    parts = css[css.index("(") + 1 : css.index(")")].split(",")
    return tuple(int(float(p)) for p in parts[:3])  # type: ignore[return-value]


@pytest.mark.parametrize("url_name", ["web:approvals", "web:audit-log"])
def test_focus_ring_has_3_to_1_contrast_and_inputs_are_labelled(page, login, dave, url_name):
    login(page, dave)
    page.goto(reverse(url_name))
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the brand link
    focused = page.evaluate_handle("document.activeElement")
    style = focused.evaluate(
        "e => { const s = getComputedStyle(e);"
        " return [s.outlineStyle, s.outlineColor, s.outlineWidth]; }"
    )
    assert style[0] != "none" and float(style[2].rstrip("px")) >= 2, style
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert _contrast(_rgb(style[1]), _rgb(background)) >= 3, style
    assert _contrast(_rgb(style[1]), (255, 255, 255)) >= 3, style
    # Every visible input, select and textarea has a label.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !e.labels.length && !e.getAttribute('aria-label'))
            .map(e => e.name)"""
    )
    assert unlabelled == []


def test_the_confirmation_page_is_keyboard_ready(page, login, alice, bob, readonly):
    from accessgroups.access import services

    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    login(page, bob)
    page.goto(reverse("web:request-reject", args=[request.pk]))
    reason = page.get_by_label("Reason (the requester sees it)")
    reason.focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Reject request"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"

