"""Query filters as the schema declares them: a present but empty or malformed value is
refused with 400 naming it (never read as "no filter"), a moment outside the calendar once
in UTC is a 400 rather than a 500, and a page that does not exist is 404."""

import pytest

from tests.api.helpers import assert_bad_input, database_fingerprint

REFUSED = [
    "/api/v1/audit-events/?until=",
    "/api/v1/audit-events/?since=",
    "/api/v1/audit-events/?since=2025-01-31T25:00:00Z",
    # Before year 1 and after year 9999 once in UTC: these were 500s.
    "/api/v1/audit-events/?since=0001-01-01T00:00:00%2B05:00",
    "/api/v1/audit-events/?until=9999-12-31T23:59:59-05:00",
    "/api/v1/reports/who-has-access/?at=0001-01-01T00:00:00%2B14:00",
    "/api/v1/reports/who-has-access/?expiring_before=9999-12-31T23:59:59-12:00",
    "/api/v1/reports/who-has-access/?at=",
    "/api/v1/reports/who-has-access/?access_group=",
    "/api/v1/reports/who-has-access/?format=",
    "/api/v1/access-groups/?archived=",
    "/api/v1/access-groups/?provisioning_status=",
    "/api/v1/access-requests/?status=",
    "/api/v1/access-requests/?access_group=",
    "/api/v1/access-requests/?access_group=-1",
    "/api/v1/access-requests/?decidable=",
    "/api/v1/memberships/?active=",
    "/api/v1/memberships/?access_group=1.0",
    "/api/v1/users/?provisioning_status=",
    "/api/v1/access-reviews/?open=",
    "/api/v1/drift/?open=",
    "/api/v1/drift/?open=yes",
]


@pytest.mark.parametrize("url", REFUSED)
def test_empty_or_malformed_filters_are_refused(api, dave, url):
    field = url.split("?")[1].split("=")[0]
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.get(url), field, before)


def test_empty_filter_of_review_items_is_refused(api, dave, readonly):
    from accessgroups.models import AccessReview

    review = AccessReview.objects.create(
        access_group=readonly, opened_by=dave, deadline="2999-01-01T00:00:00Z", on_deadline="flag"
    )
    client = api(dave)
    before = database_fingerprint()
    response = client.get(f"/api/v1/access-reviews/{review.pk}/items/?pending=")
    assert_bad_input(response, "pending", before)


def test_free_text_filters_may_be_empty(api, dave):
    # A text filter is a string, and "" is one: it filters nothing.
    for url in ("/api/v1/audit-events/?actor=", "/api/v1/memberships/?user="):
        assert api(dave).get(url).status_code == 200


@pytest.mark.parametrize(
    "moment", ["2025-01-31t12:00:00z", "2025-01-31T12:00:00Z", "2025-01-31", "2025-01-31T12:00"]
)
def test_rfc_3339_moments_in_either_case(api, dave, moment):
    # RFC 3339, which the schema's date-time means, allows a lower-case "t" and "z".
    assert api(dave).get("/api/v1/audit-events/", {"since": moment}).status_code == 200


@pytest.mark.parametrize("page", ["", "0", "-1", "x", "2"])
def test_a_page_that_does_not_exist_is_404(api, dave, page):
    response = api(dave).get(f"/api/v1/users/?page={page}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_the_first_page_by_number_or_by_default(api, dave):
    assert api(dave).get("/api/v1/users/?page=1").json()["count"] == 1
    assert api(dave).get("/api/v1/users/").json()["count"] == 1
