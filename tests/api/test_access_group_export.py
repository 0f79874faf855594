"""GET /api/v1/access-groups/export/: the live access groups as configuration, for
auditors and admins, as YAML or as terraform.tfvars.json."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.changes.test_terraform import assert_module_shape

pytestmark = pytest.mark.django_db
URL = "/api/v1/access-groups/export/"


@pytest.mark.parametrize("persona", ["carol", "dave"])
def test_auditors_and_admins_get_the_yaml_file(estate, api, request, persona):
    response = api(request.getfixturevalue(persona)).get(URL, HTTP_ACCEPT="application/yaml")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="access-groups.yaml"'
    document = yaml.safe_load(response.content.decode("utf-8"))
    assert [g["name"] for g in document["access_groups"]] == ["Billing", "Developers", "ReadOnly"]


def test_the_api_file_is_the_commands_file(estate, api, carol):
    from tests.changes.test_export import export

    body = api(carol).get(URL, {"format": "yaml"}).content.decode("utf-8")

    # Apart from the moment in the header.
    assert body.split("\n", 2)[2] == export().split("\n", 2)[2]


def test_terraform(estate, api, dave):
    response = api(dave).get(URL, {"format": "terraform"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="terraform.tfvars.json"'
    assert_module_shape(json.loads(response.content))


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_requesters_and_approvers_are_refused(estate, api, request, persona):
    response = api(request.getfixturevalue(persona)).get(URL)

    assert response.status_code == 403


def test_anonymous_is_refused(estate, api):
    assert api(None).get(URL).status_code in (401, 403)


def test_an_unknown_format_is_a_400_naming_format(estate, api, dave):
    client = api(dave)
    before = database_fingerprint()

    response = client.get(URL, {"format": "xml"})

    assert_bad_input(response, "format", before)


def test_queries_do_not_grow_with_the_groups(estate, api, dave, django_assert_max_num_queries):
    from accessgroups.catalogue.services import access_group_create

    client = api(dave)
    client.get(URL)  # the token's first use is noted once
    with django_assert_max_num_queries(20) as few:
        assert client.get(URL).status_code == 200
    for n in range(5):
        access_group_create(actor=dave, name=f"More{n}", approvers=["bob"], accounts=["111111111110"])
    for fmt in ("yaml", "terraform"):
        with django_assert_max_num_queries(len(few.captured_queries) + 2):
            assert client.get(URL, {"format": fmt}).status_code == 200
