"""starts_at and timed_out through the API (decision 0017)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access import timing
from accessgroups.access.services import access_request_create
from accessgroups.models import AccessRequest
from tests.api.helpers import assert_bad_input, database_fingerprint

URL = "/api/v1/access-requests/"


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_request_with_a_start_is_approved_and_waits(api, alice, bob, readonly, requested_syncs):
    starts = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    response = api(alice).post(
        URL,
        {"access_group": readonly.pk, "justification": "release", "starts_at": iso(starts)},
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["starts_at"] == iso(starts)

    approved = api(bob).post(f"{URL}{response.data['id']}/approve/", {}, format="json")
    assert approved.status_code == 202
    assert approved.data["status"] == "approved"
    assert approved.data["starts_at"] == iso(starts)
    assert requested_syncs == []

    cancelled = api(alice).post(f"{URL}{response.data['id']}/cancel/", {}, format="json")
    assert cancelled.status_code == 202
    assert cancelled.data["status"] == "cancelled"


@pytest.mark.parametrize(
    "starts_at",
    [
        lambda: iso(timezone.now() - timedelta(hours=1)),
        lambda: iso(timezone.now() + timedelta(days=31)),
        lambda: "tomorrow",
        lambda: "",
    ],
)
def test_a_bad_start_is_400_naming_the_field(api, alice, readonly, starts_at):
    client = api(alice)
    before = database_fingerprint()
    response = client.post(
        URL,
        {"access_group": readonly.pk, "justification": "x", "starts_at": starts_at()},
        format="json",
    )
    assert_bad_input(response, "starts_at", before)


def test_a_null_start_means_at_once(api, alice, readonly):
    response = api(alice).post(
        URL, {"access_group": readonly.pk, "justification": "x", "starts_at": None}, format="json"
    )
    assert response.status_code == 201 and response.data["starts_at"] is None


def test_timed_out_requests_are_listed_by_status(api, alice, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    AccessRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - timedelta(hours=100)
    )
    timing.requests_time_out(now=timezone.now())

    response = api(alice).get(URL, {"status": "timed_out"})
    assert response.status_code == 200
    assert [r["id"] for r in response.data["results"]] == [request.pk]
    assert response.data["results"][0]["status"] == "timed_out"

    approve = api(alice).post(f"{URL}{request.pk}/cancel/", {}, format="json")
    assert approve.status_code == 409
