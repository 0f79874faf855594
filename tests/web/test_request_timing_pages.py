"""The request form's start time, and My requests for delayed and timed-out requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.access import services, timing
from accessgroups.models import AccessRequest, Membership, RequestStatus

pytestmark = pytest.mark.django_db


def form_time(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_the_form_asks_for_a_start(client_for, alice, readonly):
    page = client_for(alice).get(reverse("web:request-create", args=[readonly.pk])).content.decode()
    assert 'type="datetime-local"' in page and "Start (UTC)" in page


def test_a_start_in_the_past_is_shown_on_its_field(client_for, alice, readonly):
    response = client_for(alice).post(
        reverse("web:request-create", args=[readonly.pk]),
        {"justification": "release", "starts_at": form_time(timezone.now() - timedelta(days=1))},
    )
    assert response.status_code == 400
    assert "The start is in the past" in str(response.context["form"].errors["starts_at"])
    assert not AccessRequest.objects.exists()


def test_a_start_too_far_is_shown_on_its_field(client_for, alice, readonly):
    response = client_for(alice).post(
        reverse("web:request-create", args=[readonly.pk]),
        {"justification": "release", "starts_at": form_time(timezone.now() + timedelta(days=31))},
    )
    assert response.status_code == 400
    assert "at most 30 days ahead" in str(response.context["form"].errors["starts_at"])


def test_an_approved_request_shows_its_start_and_can_be_cancelled(
    client_for, alice, bob, readonly, requested_syncs
):
    client = client_for(alice)
    starts = (timezone.now() + timedelta(hours=5)).replace(second=0, microsecond=0)
    response = client.post(
        reverse("web:request-create", args=[readonly.pk]),
        {"justification": "release", "starts_at": form_time(starts)},
    )
    assert response.status_code == 302
    request = AccessRequest.objects.get()
    assert request.starts_at == starts
    services.access_request_approve(access_request=request, approver=bob)

    page = client.get(reverse("web:my-requests")).content.decode()
    assert f"starts at <time datetime=\"{starts.isoformat()}\">" in page
    assert f"Starts at {starts:%Y-%m-%d %H:%M} UTC" in page
    assert "you may cancel until it starts" in page
    assert "Cancel request" in page

    client.post(reverse("web:request-cancel", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    assert Membership.objects.get().ended_at is not None


def test_a_timed_out_request_says_so(client_for, alice, readonly):
    request = services.access_request_create(requester=alice, access_group=readonly, justification="x")
    AccessRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - timedelta(days=4))
    timing.requests_time_out(now=timezone.now())

    page = client_for(alice).get(reverse("web:my-requests")).content.decode()
    assert "Timed out</span>" in page
    assert "Timed out: nobody decided in time. You may ask again." in page
    assert "Cancel request" not in page
