"""In the browser: alice asks for access from tomorrow, bob approves, alice cancels before it starts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access import services
from accessgroups.models import AccessRequest

pytestmark = pytest.mark.django_db(transaction=True)


def test_alice_asks_for_a_later_start_and_cancels_before_it(
    page, login, alice, bob, readonly, requested_syncs
):
    starts = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    login(page, alice)
    page.goto(f"/access-groups/{readonly.pk}/request/")
    page.get_by_label("Justification").fill("release on Monday")
    page.get_by_label("Start (UTC)").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Submit request").click()
    page.get_by_text(f"starts at {starts:%Y-%m-%d %H:%M} UTC").wait_for()

    request = AccessRequest.objects.get()
    assert request.starts_at == starts
    services.access_request_approve(access_request=request, approver=bob)

    page.reload()
    page.get_by_text(f"Starts at {starts:%Y-%m-%d %H:%M} UTC", exact=True).wait_for()
    page.get_by_role("button", name="Cancel request").click()
    # A destructive action asks first, on a page of its own.
    page.get_by_role("heading", name="Cancel your request for ReadOnly").wait_for()
    page.get_by_role("button", name="Cancel request").click()
    page.get_by_text("Your request for ReadOnly was cancelled.").wait_for()
    request.refresh_from_db()
    assert request.status == "cancelled"
