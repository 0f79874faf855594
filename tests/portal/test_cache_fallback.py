"""With Redis gone, sign-in and the API still answer, and their limits count per process.

The cache is the portal's own (portal.env.cache_from_url) on the machine's Redis, reached
through a proxy that the tests cut to take Redis away and restore to bring it back.
"""

from __future__ import annotations

import logging

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse

from portal.cache import FallbackRedisCache, forget_outages
from portal.env import cache_from_url

PASSWORD = "correct horse battery staple"  # tests/conftest.py's make_user
GROUPS = "/api/v1/access-groups/"


@pytest.fixture(autouse=True)
def _no_outage_left_over():
    forget_outages()
    yield
    forget_outages()


@pytest.fixture
def portal_cache(settings, proxied_redis):
    """The portal's cache through the proxy; Redis is asked again at every operation once
    it failed (production waits OUTAGE_RETRY_SECONDS), so the tests need not sleep."""
    config = cache_from_url(proxied_redis.url, proxied_redis.prefix)
    config["OPTIONS"]["OUTAGE_RETRY_SECONDS"] = 0
    settings.CACHES = {"default": config}
    return proxied_redis


def sign_in(login: str, password: str, address: str = "198.51.100.7"):
    return Client(REMOTE_ADDR=address).post(
        reverse("account_login"), {"login": login, "password": password}
    )


def test_sessions_never_live_in_the_cache():
    from importlib import import_module

    from django.contrib.sessions.backends.cached_db import SessionStore as CachedStore
    from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

    store = import_module(django_settings.SESSION_ENGINE).SessionStore
    assert issubclass(store, DatabaseStore) and not issubclass(store, CachedStore)


def test_through_the_proxy_the_cache_is_redis(portal_cache):
    assert isinstance(caches["default"], FallbackRedisCache)
    cache.set("answer", 41, 60)
    assert cache.incr("answer") == 42
    assert cache.add("answer", 0) is False
    assert cache.add("fresh", "yes", 60) is True
    assert cache.get("answer") == 42
    assert cache.get_many(["answer", "fresh"]) == {"answer": 42, "fresh": "yes"}

    assert f"{portal_cache.prefix}:1:answer" in portal_cache.keys()


def test_with_redis_gone_the_cache_answers_from_memory_and_says_so(portal_cache, caplog):
    cache.set("answer", 42, 60)
    portal_cache.proxy.cut()

    with caplog.at_level(logging.WARNING, logger="portal.cache"):
        assert cache.get("answer") is None  # Redis's value is out of reach
        cache.set("answer", 7, 60)
        assert cache.incr("answer") == 8
        assert cache.add("answer", 0) is False
        assert cache.get("answer") == 8

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one per minute, not one per operation
    assert "this process's memory" in warnings[0]
    assert "redis://" not in warnings[0]

    portal_cache.proxy.restore()
    assert cache.get("answer") == 42  # Redis again, where the first value still is
    assert not caches["default"].is_degraded()


def test_with_redis_gone_the_api_and_sign_in_answer_and_still_count(
    settings, portal_cache, api, alice, bob
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "1000/minute"},
    }
    as_alice = api(alice)
    assert as_alice.get(GROUPS).status_code == 200  # counted in Redis
    portal_cache.proxy.cut()

    # Counted in this process's memory: three more calls, then 429 as before.
    for _ in range(3):
        assert as_alice.get(GROUPS).status_code == 200
    refused = as_alice.get(GROUPS)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) <= 60

    # Signing in works, and failed attempts are still limited per account.
    assert sign_in("bob", PASSWORD).status_code == 302
    failures = int(settings.LOGIN_FAILED_PER_ACCOUNT.split("/")[0])
    for _ in range(failures):
        assert sign_in("alice", "not the password").status_code == 200
    assert sign_in("alice", PASSWORD).status_code == 429

    portal_cache.proxy.restore()
    # Redis counts again: it holds alice's one call from before the cut, so two more pass.
    assert as_alice.get(GROUPS).status_code == 200
    assert as_alice.get(GROUPS).status_code == 200
    assert as_alice.get(GROUPS).status_code == 429
    assert any("throttle_user" in key for key in portal_cache.keys())
