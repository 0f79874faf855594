"""Nothing a client sends makes the API answer 500.

Every /api/v1/ route and method (from the URL configuration, as in the permission matrix)
is called by a user it allows, with each field of a valid body replaced in turn by values a
careless or hostile client sends (NUL bytes, huge numbers and strings, wrong types, nesting),
with bodies that are not JSON or not objects, and with odd query parameters. Refusals are
fine, 500s are not.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.api.test_permission_matrix import EXPECTED, ROUTES, SETUPS, World
from tests.api.test_permission_matrix import world as world  # noqa: F401 - the fixture

HOSTILE_VALUES = [
    None,
    "",
    "\x00",
    "a\x00b",
    "x" * 100_000,
    -1,
    0,
    10**30,
    1.5,
    True,
    [],
    ["\x00"],
    {},
    {"nested": {"deeper": [1, 2, 3]}},
    "<script>alert(1)</script>",
    "9999-99-99T99:99:99Z",
    "ＡＢＣ",
]

HOSTILE_QUERIES = [
    {"page": "-1"},
    {"page": "abc"},
    {"page": "99999999"},
    {"page_size": "-5"},
    {"format": "bogus"},
    {"format": "xlsx"},
    {"at": "9999-99-99"},
    {"at": "\x00"},
    {"expiring_before": "2026-13-01"},
    {"user": "\x00"},
    {"user": "x" * 5000},
    {"access_group": "abc"},
    {"access_group": str(10**30)},
    {"account": "12"},
    {"open": "maybe"},
    {"pending": "maybe"},
    {"status": "\x00"},
    {"since": "yesterday"},
    {"until": "2026-02-30"},
    {"action": "\x00"},
    {"sequence_after": "-1"},
]

# The user who may call each route: the test is about input, not about permissions.
PREFERENCE = ("dave", "bob", "carol", "alice")


def _caller(route: str, method: str) -> str:
    allowed = EXPECTED[(route, method)]
    return next(name for name in PREFERENCE if name in allowed)


def _no_500(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"


@pytest.mark.parametrize(("route", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_no_input_makes_the_api_fail(route, method, world: World, api):
    kwargs, body = SETUPS[route](world)
    client = api(world.users[_caller(route, method)])
    url = reverse(route, kwargs=kwargs)

    if method == "GET":
        for query in HOSTILE_QUERIES:
            _no_500(client.get(url, query), f"GET {query}")
        return
    send = getattr(client, method.lower())
    body = body or {}
    for key in [*body, "unexpected_field"]:
        for value in HOSTILE_VALUES:
            _no_500(send(url, {**body, key: value}, format="json"), f"{key}={value!r:.40}")
    for raw in ("{not json", "[]", '"a string"', "123", "null", json.dumps([body])):
        _no_500(send(url, raw, content_type="application/json"), f"raw body {raw:.40}")
    _no_500(send(url, "a=1&b=\x00", content_type="application/x-www-form-urlencoded"), "form body")
    _no_500(send(url, b"\xff\xfe\x00", content_type="application/json"), "undecodable body")
