"""A JSON body has the types the schema says: a number where a string belongs (or the other
way round) is refused with 400 naming the field, not coerced; a form body, where every
value is a string, is read as before."""

import pytest

from accessgroups.models import AccessRequest
from tests.api.helpers import assert_bad_input, database_fingerprint

ONBOARD = {
    "username": "frank",
    "email": "frank@example.com",
    "given_name": "F",
    "family_name": "E",
}


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/users/", {**ONBOARD, "display_name": 0}, "display_name"),
        ("/api/v1/users/", {**ONBOARD, "given_name": 7.5}, "given_name"),
        ("/api/v1/access-groups/", {"name": "Ops", "requestable": "yes"}, "requestable"),
        ("/api/v1/access-groups/", {"name": "Ops", "requestable": 1}, "requestable"),
        (
            "/api/v1/access-groups/",
            {"name": "Ops", "max_duration_hours": "8"},
            "max_duration_hours",
        ),
        (
            "/api/v1/access-groups/",
            {"name": "Ops", "customer_managed_policies": [{"name": 5}]},
            "customer_managed_policies",
        ),
        ("/api/v1/accounts/", {"account_id": "123456789012", "name": 12}, "name"),
    ],
)
def test_a_value_of_another_json_type_is_refused(api, dave, readonly, url, body, field):
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.post(url, body, format="json"), field, before)


def test_a_number_is_not_a_justification(api, dave, alice, readonly):
    client = api(dave)
    before = database_fingerprint()
    body = {"user": "alice", "access_group": readonly.pk, "justification": 42}
    response = client.post("/api/v1/memberships/", body, format="json")
    assert_bad_input(response, "justification", before)


def test_nested_and_listed_values_are_named_by_key_and_index(api, dave):
    body = {"name": "Ops", "customer_managed_policies": [{"name": "ok"}, {"name": 5}]}
    response = api(dave).post("/api/v1/access-groups/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["customer_managed_policies"]) == ["1"]
    assert list(response.json()["customer_managed_policies"]["1"]) == ["name"]


def test_an_id_as_a_string_is_refused_in_json(api, alice, readonly):
    client = api(alice)
    before = database_fingerprint()
    body = {"access_group": str(readonly.pk), "justification": "on call"}
    response = client.post("/api/v1/access-requests/", body, format="json")
    assert_bad_input(response, "access_group", before)


def test_a_form_body_is_read_as_strings(api, alice, readonly):
    body = {"access_group": str(readonly.pk), "justification": "on call", "duration_hours": "4"}
    response = api(alice).post("/api/v1/access-requests/", body, format="multipart")
    assert response.status_code == 201, response.data
    assert AccessRequest.objects.get().duration_hours == 4


def test_a_whole_number_written_with_a_fraction_is_a_number(api, alice, limited):
    # 4.0 is an integer to JSON Schema as well.
    body = {"access_group": limited.pk, "justification": "on call", "duration_hours": 4.0}
    response = api(alice).post("/api/v1/access-requests/", body, format="json")
    assert response.status_code == 201, response.data
