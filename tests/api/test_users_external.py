"""POST /api/v1/users/ with IDENTITY_SOURCE=external: the provider owns the names, and the
user is linked."""

from __future__ import annotations

import pytest

from accessgroups.models import User
from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.syncs import run_enqueued

GINA = {"username": "gina", "email": "gina@example.com", "roles": []}


@pytest.fixture
def external(settings):
    settings.IDENTITY_SOURCE = "external"
    settings.IDENTITY_MATCH = "email"
    return settings


def test_names_are_not_required_and_linking_is_enqueued(
    api, dave, external, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post("/api/v1/users/", GINA, format="json")

    assert response.status_code == 202, response.data
    gina = User.objects.get(username="gina")
    assert (gina.given_name, gina.family_name, gina.onboarding_requested) == ("", "", True)
    assert response.data["identity_center_user_id"] == ""
    assert response.data["provisioning_status"] == "pending"
    assert run_enqueued(callbacks) == [("user_onboard_task", (gina.pk,))]


def test_external_id_match_requires_the_external_id(api, dave, external):
    external.IDENTITY_MATCH = "external_id"
    client = api(dave)
    before = database_fingerprint()

    response = client.post("/api/v1/users/", GINA, format="json")

    assert_bad_input(response, "external_id", before)
    assert "IDENTITY_MATCH=external_id" in str(response.data["external_id"])


def test_external_id_is_stored(api, dave, external):
    external.IDENTITY_MATCH = "external_id"

    response = api(dave).post("/api/v1/users/", {**GINA, "external_id": "00u-gina"}, format="json")

    assert response.status_code == 202, response.data
    assert response.data["external_id"] == "00u-gina"
    assert User.objects.get(username="gina").external_id == "00u-gina"


@pytest.mark.parametrize("value", ["a\x00b", "x" * 256, ["00u-gina"]])
def test_a_bad_external_id_is_refused_naming_the_field(api, dave, external, value):
    client = api(dave)
    before = database_fingerprint()

    response = client.post("/api/v1/users/", {**GINA, "external_id": value}, format="json")

    assert_bad_input(response, "external_id", before)


def test_identity_center_mode_still_requires_the_names(api, dave):
    client = api(dave)
    before = database_fingerprint()

    response = client.post("/api/v1/users/", GINA, format="json")

    assert_bad_input(response, "given_name", before)
    assert "family_name" in response.data


def test_an_external_id_another_user_has_is_refused(api, dave, external, make_user):
    make_user("holder", external_id="00u-gina")
    client = api(dave)
    before = database_fingerprint()

    response = client.post("/api/v1/users/", {**GINA, "external_id": "00u-gina"}, format="json")

    assert_bad_input(response, "external_id", before)
