"""API throttles: per signed-in user and per anonymous address, counted in the shared cache.

Every test runs against the machine's Redis (`shared_cache`: db 15, a key prefix of the
test's own), with small rates so that they stay quick; the rates the portal starts with
are checked in tests/core/test_throttling.py.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIClient

GROUPS = "/api/v1/access-groups/"
SCHEMA = "/api/schema/"


@pytest.fixture
def rates(settings, shared_cache):
    """rates(user=..., anon=...): the API's rates for this test."""

    def set_rates(**scopes: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"user": "1000/minute", "anon": "1000/minute", **scopes},
        }

    return set_rates


def assert_throttled(response, *, at_most: int) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= at_most
    # JSON from the API, YAML from the schema: DRF's words either way.
    assert b"Request was throttled. Expected available in" in response.content


def anonymous(address: str, **headers: str) -> APIClient:
    return APIClient(REMOTE_ADDR=address, **headers)


def test_a_token_is_throttled_at_its_rate_and_others_are_not(rates, api, alice, bob):
    rates(user="3/minute")
    as_alice, as_bob = api(alice), api(bob)
    for _ in range(3):
        assert as_alice.get(GROUPS).status_code == 200

    assert_throttled(as_alice.get(GROUPS), at_most=60)
    assert as_bob.get(GROUPS).status_code == 200
    # Per person, not per client: alice's browser session counts with her token.
    session = APIClient(REMOTE_ADDR="203.0.113.20")
    session.force_login(alice)
    assert_throttled(session.get(GROUPS), at_most=60)


def test_an_anonymous_address_is_throttled_at_its_rate_and_others_are_not(
    rates, api, alice
):
    rates(anon="2/minute")
    for _ in range(2):
        assert anonymous("198.51.100.7").get(SCHEMA).status_code == 200

    assert_throttled(anonymous("198.51.100.7").get(SCHEMA), at_most=60)
    assert anonymous("203.0.113.20").get(SCHEMA).status_code == 200
    # A forged X-Forwarded-For does not make a new client: no proxy is trusted.
    forged = anonymous("198.51.100.7", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert_throttled(forged.get(SCHEMA), at_most=60)
    # Signed-in callers count against their own rate, not the address's.
    alice_there = api(alice)
    alice_there.defaults["REMOTE_ADDR"] = "198.51.100.7"
    assert alice_there.get(SCHEMA).status_code == 200


def test_behind_a_load_balancer_anonymous_clients_are_counted_by_forwarded_address(
    settings, rates
):
    settings.TRUSTED_PROXY_COUNT = 1
    rates(anon="1/minute")
    balancer = "10.0.0.5"
    assert anonymous(balancer, HTTP_X_FORWARDED_FOR="198.51.100.7").get(SCHEMA).status_code == 200

    forged = anonymous(balancer, HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7")
    assert_throttled(forged.get(SCHEMA), at_most=60)
    assert anonymous(balancer, HTTP_X_FORWARDED_FOR="203.0.113.20").get(SCHEMA).status_code == 200


def test_calls_counted_through_another_connection_count_here(rates, shared_cache, api, alice):
    # As another web process would: its own client to the same Redis records calls of
    # alice's, and this process then refuses hers.
    rates(user="4/minute")
    as_alice = api(alice)
    assert as_alice.get(GROUPS).status_code == 200

    other = RedisCache(shared_cache["LOCATION"], {"KEY_PREFIX": shared_cache["KEY_PREFIX"]})
    key = f"throttle_user_{alice.pk}"
    history = other.get(key)
    assert history is not None and len(history) == 1
    now = time.time()
    other.set(key, [now, now, now, *history], 60)
    other.close()

    assert_throttled(as_alice.get(GROUPS), at_most=60)
