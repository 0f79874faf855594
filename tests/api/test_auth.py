"""Token and browser-session authentication, and the browsable API pages."""

import pytest
from django.urls import NoReverseMatch, reverse
from rest_framework.test import APIClient

from accessgroups.models import AccessRequest
from tests.api.helpers import database_fingerprint
from tests.api.test_permission_matrix import ROUTES


def test_anonymous_calls_get_401_with_a_token_challenge(db):
    response = APIClient().get("/api/v1/access-groups/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert client.get("/api/v1/access-groups/").status_code == 401


def test_browser_session_works_and_needs_csrf_for_writes(alice, readonly):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/v1/access-groups/").status_code == 200
    before = database_fingerprint()
    response = client.post(
        "/api/v1/access-requests/",
        {"access_group": readonly.pk, "justification": "x"},
        format="json",
    )
    assert response.status_code == 403
    assert "CSRF" in str(response.data["detail"])
    assert database_fingerprint() == before


def test_browser_session_write_with_csrf_token(alice, readonly):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    # The browsable API's forms set the csrftoken cookie, as in a browser.
    assert client.get("/api/v1/access-requests/", HTTP_ACCEPT="text/html").status_code == 200
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/access-requests/",
        {"access_group": readonly.pk, "justification": "x"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.data
    assert AccessRequest.objects.filter(requester=alice).count() == 1


def _takes_no_arguments(route: str) -> bool:
    try:
        reverse(route)
    except NoReverseMatch:
        return False
    return True


# Routes that answer only files, never a page.
FILE_ROUTES = {"access-group-export"}


# Routes with ids in their path (details, a review's items) are rendered where their rows are
# built (e.g. tests/api/test_access_reviews.py).
@pytest.mark.parametrize(
    "route",
    sorted({name for name, method in ROUTES if method == "GET" and _takes_no_arguments(name)}),
)
def test_browsable_api_pages_render(route, dave, readonly):
    client = APIClient()
    client.force_login(dave)
    response = client.get(reverse(route), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    if route in FILE_ROUTES:
        # A file whatever the browser accepts: following the link downloads it.
        assert response["Content-Disposition"].startswith("attachment; ")
    else:
        assert response["Content-Type"].startswith("text/html")
