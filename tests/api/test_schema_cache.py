"""/api/schema/ is generated once per process and kept; what is kept cannot grow without bound."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accessgroups.api import schema


@pytest.fixture
def fresh_cache():
    saved = dict(schema._schemas)
    schema._schemas.clear()
    yield schema._schemas
    schema._schemas.clear()
    schema._schemas.update(saved)


def test_the_schema_is_generated_once_and_served_alike(db, fresh_cache):
    client = APIClient()
    first = client.get("/api/schema/")
    assert first.status_code == 200
    assert list(fresh_cache) == [(None, "en")]
    kept = fresh_cache[(None, "en")]
    second = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert second.content == first.content
    assert fresh_cache[(None, "en")] is kept
    as_json = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert as_json.status_code == 200
    assert as_json.json()["paths"].keys() == kept["paths"].keys()


def test_query_strings_do_not_grow_what_is_kept(db, fresh_cache):
    client = APIClient()
    for n in range(5):
        assert client.get(f"/api/schema/?version=v{n}").status_code == 200
        assert client.get(f"/api/schema/?lang=xx-{n}").status_code == 200
    assert set(fresh_cache) <= {(None, "en")}
    # A language Django has is kept once, like the plain schema.
    assert client.get("/api/schema/?lang=de").status_code == 200
    assert client.get("/api/schema/?lang=de").status_code == 200
    assert (None, "de") in fresh_cache
