import json
import re

from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (an untyped field, an unknown
    # path parameter...) into a failure; --validate checks it against the OpenAPI spec.
    out = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(out),
    )
    schema = json.loads(out.read_text())
    paths = schema["paths"]
    assert "/api/v1/access-requests/{id}/approve/" in paths
    assert "/api/v1/reports/who-has-access/" in paths
    export = paths["/api/v1/reports/who-has-access/"]["get"]
    assert set(export["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/jsonl",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert "put" not in paths["/api/v1/access-groups/{id}/"]


def test_schema_is_served(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/memberships/" in response.content


def test_docs_load_offline(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the docs page references no assets"
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], (
        "the docs load assets from the network"
    )
    static = [a for a in assets if a.startswith("/static/")]
    assert any(a.endswith("swagger-ui-bundle.js") for a in static)
    for asset in static:
        assert finders.find(asset.removeprefix("/static/")), (
            f"{asset} is not served by this install"
        )
