"""The limits' configuration: rate syntax, the shared cache, the client address rule.

What the portal starts with is read from a fresh process with the environment given, as a
deployment would start it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from accessgroups.core.throttling import Rate, address_for_limits, client_address, parse_rate
from portal.env import cache_from_url

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("120/minute", Rate(120, 60)),
        ("1000/hour", Rate(1000, 3600)),
        ("5/15m", Rate(5, 900)),
        ("30/ 1h", Rate(30, 3600)),
        ("10/s", Rate(10, 1)),
        ("2/day", Rate(2, 86400)),
        ("5/900s", Rate(5, 900)),
    ],
)
def test_rates_are_a_count_per_period(text, rate):
    assert parse_rate(text) == rate
    assert parse_rate(str(rate)) == rate


@pytest.mark.parametrize(
    "text", ["", "lots", "100", "100/fortnight", "0/minute", "5/0m", "-1/m", "5/m/ip"]
)
def test_malformed_rates_are_refused_saying_how_to_write_one(text):
    with pytest.raises(ValueError, match="rate|at least 1"):
        parse_rate(text)


def settings_of_a_fresh_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Start the portal's settings with only ``env`` set; print what the limits use."""
    script = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'cache': s.CACHES['default'], 'proxies': s.TRUSTED_PROXY_COUNT, "
        "'rates': s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], "
        "'classes': s.REST_FRAMEWORK['DEFAULT_THROTTLE_CLASSES'], "
        "'num_proxies': s.REST_FRAMEWORK['NUM_PROXIES'], "
        "'allauth': s.ACCOUNT_RATE_LIMITS}))"
    )
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    full = {
        **base,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "settings-check",
        "PORTAL_VAR_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=full, capture_output=True, text=True,
        timeout=60,
    )


def started(tmp_path: Path, **env: str) -> dict:
    result = settings_of_a_fresh_process(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_without_redis_the_limits_live_in_the_database_and_the_defaults_apply(tmp_path):
    found = started(tmp_path)

    assert found["cache"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert found["cache"]["LOCATION"] == "portal_cache"
    assert found["proxies"] == 0 and found["num_proxies"] == 0
    assert found["rates"] == {"user": "120/minute", "anon": "30/minute"}
    assert found["classes"] == [
        "accessgroups.api.throttling.UserThrottle",
        "accessgroups.api.throttling.AnonThrottle",
    ]
    assert found["allauth"]["login_failed"] == "30/900s/ip,5/900s/key"
    assert found["allauth"]["login"] == "30/60s/ip"


def test_with_a_redis_broker_the_limits_live_in_that_redis(tmp_path):
    found = started(
        tmp_path, CELERY_BROKER_URL="redis://redis.internal:6379/0", CELERY_BROKER_KEY_PREFIX="p1:"
    )

    assert found["cache"]["BACKEND"] == "portal.cache.FallbackRedisCache"
    assert found["cache"]["LOCATION"] == "redis://redis.internal:6379/0"
    # Portals that share a Redis by broker prefix keep their limits apart too.
    assert found["cache"]["KEY_PREFIX"] == "p1:"


def test_the_environment_sets_the_cache_the_proxies_and_the_rates(tmp_path):
    found = started(
        tmp_path,
        CELERY_BROKER_URL="redis://redis.internal:6379/0",
        CACHE_URL="rediss://cache.internal:6380/2",
        CACHE_KEY_PREFIX="portal-a",
        TRUSTED_PROXY_COUNT="2",
        API_THROTTLE_USER="1000/hour",
        API_THROTTLE_ANON="10/minute",
        LOGIN_FAILED_PER_ACCOUNT="10/1h",
        LOGIN_FAILED_PER_ADDRESS="50/1h",
        LOGIN_ATTEMPTS_PER_ADDRESS="60/minute",
    )

    assert found["cache"]["LOCATION"] == "rediss://cache.internal:6380/2"
    assert found["cache"]["KEY_PREFIX"] == "portal-a"
    assert found["proxies"] == 2 and found["num_proxies"] == 2
    assert found["rates"] == {"user": "1000/hour", "anon": "10/minute"}
    assert found["allauth"]["login_failed"] == "50/3600s/ip,10/3600s/key"
    assert found["allauth"]["login"] == "60/60s/ip"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_THROTTLE_USER", "lots"),
        ("API_THROTTLE_ANON", "100"),
        ("LOGIN_FAILED_PER_ACCOUNT", "5 per 15 minutes"),
        ("LOGIN_FAILED_PER_ADDRESS", "0/15m"),
        ("LOGIN_ATTEMPTS_PER_ADDRESS", "30/fortnight"),
        ("CACHE_URL", "locmem://"),
        ("TRUSTED_PROXY_COUNT", "-1"),
        ("TRUSTED_PROXY_COUNT", "one"),
    ],
)
def test_a_bad_value_stops_the_portal_naming_the_variable(tmp_path, name, value):
    result = settings_of_a_fresh_process(tmp_path, **{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name}" in result.stderr.strip().splitlines()[-1]


def test_per_process_memory_is_never_the_portals_cache():
    for url in ("locmem://", "dummy://", "file:///tmp/cache"):
        with pytest.raises(ImproperlyConfigured, match="Per-process memory is refused"):
            cache_from_url(url, "portal")


def request(remote: str = "10.0.0.5", forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_address_is_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 0

    assert client_address(request("203.0.113.9", "192.0.2.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "client"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        # What the client wrote itself is left of what the trusted proxies appended.
        (1, "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        # Shorter than the proxy count: the leftmost entry, as DRF does.
        (3, "198.51.100.7, 10.0.0.9", "198.51.100.7"),
        # Ports some balancers append, and IPv6 in brackets.
        (1, "198.51.100.7:51234", "198.51.100.7"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        # Not an address: the balancer's own address, never the text.
        (1, "not-an-address", "10.0.0.5"),
        (1, "", "10.0.0.5"),
    ],
)
def test_behind_trusted_proxies_the_address_is_the_one_they_appended(
    settings, proxies, forwarded, client
):
    settings.TRUSTED_PROXY_COUNT = proxies

    assert client_address(request("10.0.0.5", forwarded)) == client


def test_ipv6_clients_are_limited_by_their_64(settings):
    settings.TRUSTED_PROXY_COUNT = 0

    assert address_for_limits(request("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::"
    assert address_for_limits(request("2001:db8:1:2:bbbb::7")) == "2001:db8:1:2::"
    assert address_for_limits(request("203.0.113.9")) == "203.0.113.9"
