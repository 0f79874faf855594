"""In the browser: alice takes break-glass access, bob reviews it from his approvals page."""

from __future__ import annotations

import pytest

from accessgroups.models import AccessRequest

pytestmark = pytest.mark.django_db(transaction=True)


def test_alice_breaks_the_glass_and_bob_acknowledges(
    page, login, alice, bob, make_group, sandbox, requested_syncs
):
    group = make_group("OnCall", accounts=[sandbox], approvers=[bob], break_glass=True)
    login(page, alice)
    page.goto(f"/access-groups/{group.pk}/request/")
    page.get_by_label("Justification").fill("production is down, incident 42")
    page.get_by_label("Break-glass: an emergency, grant it now").check()
    page.get_by_role("button", name="Submit request").click()
    page.get_by_text("Break-glass access to OnCall is granted").wait_for()
    request = AccessRequest.objects.get()
    assert request.break_glass and request.status in ("approved", "provisioning")

    page.context.clear_cookies()
    login(page, bob)
    page.goto("/approvals/")
    card = page.locator("article", has_text="alice took OnCall")
    card.get_by_label("Comment").fill("saw the incident")
    card.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("You acknowledged alice's break-glass access to OnCall.").wait_for()
    request.refresh_from_db()
    assert (request.break_glass_review_outcome, request.break_glass_reviewed_by) == (
        "acknowledged",
        bob,
    )
