"""The deployment hardening settings, read from the environment at start: their defaults with
DEBUG off and on, what each variable changes, and a clear refusal of a value not understood."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOWN = (
    "SECURE_SSL_REDIRECT", "SECURE_REDIRECT_EXEMPT", "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "SESSION_COOKIE_AGE",
    "SESSION_SAVE_EVERY_REQUEST", "CONTENT_SECURITY_POLICY", "MIDDLEWARE",
)
LOAD = (
    "import json, django; django.setup(); from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"
)


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "a-long-random-value-for-this-test",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", LOAD], cwd=REPO, env=base, capture_output=True, text=True,
        timeout=60,
    )


def loaded(tmp_path: Path, **env: str) -> dict:
    result = start(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_defaults(tmp_path):
    s = loaded(tmp_path)
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SECURE_PROXY_SSL_HEADER"] is None, "trusting a proxy header is opt-in"
    assert s["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert s["SECURE_HSTS_PRELOAD"] is True
    assert s["SESSION_IDLE_MINUTES"] == 60
    assert s["SESSION_MAX_HOURS"] == 12
    assert s["SESSION_COOKIE_AGE"] == 3600
    assert s["SESSION_SAVE_EVERY_REQUEST"] is False
    directives = s["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    middleware = s["MIDDLEWARE"]
    # Probes are answered before anything else runs (portal/health.py).
    assert middleware[0] == "portal.health.HealthCheckMiddleware"
    assert middleware.index("portal.csp.PortalCSPMiddleware") == 1 + middleware.index(
        "django.middleware.security.SecurityMiddleware"
    )
    # After the messages (the sign-in page says why), after authentication in any case.
    assert middleware.index("accessgroups.auth.sessions.SessionLifetimeMiddleware") == 1 + (
        middleware.index("django.contrib.messages.middleware.MessageMiddleware")
    )


def test_development_defaults(tmp_path):
    s = loaded(tmp_path, DEBUG="1")
    assert s["SECURE_SSL_REDIRECT"] is False
    # HSTS on http://localhost would stick in the developer's browser for a year.
    assert s["SECURE_HSTS_SECONDS"] == 0
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert s["SECURE_HSTS_PRELOAD"] is False
    assert s["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["script-src"] == ["'self'"]


def test_every_variable_overrides_its_default(tmp_path):
    s = loaded(
        tmp_path,
        SECURE_SSL_REDIRECT="off",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="no",
        SECURE_HSTS_PRELOAD="0",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https",
        SESSION_IDLE_MINUTES="15",
        SESSION_MAX_HOURS="8",
    )
    assert s["SECURE_SSL_REDIRECT"] is False
    assert s["SECURE_HSTS_SECONDS"] == 600
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert s["SECURE_HSTS_PRELOAD"] is False
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert s["SESSION_IDLE_MINUTES"] == 15
    assert s["SESSION_MAX_HOURS"] == 8
    assert s["SESSION_COOKIE_AGE"] == 15 * 60


def test_hsts_can_be_turned_on_with_debug(tmp_path):
    s = loaded(tmp_path, DEBUG="1", SECURE_HSTS_SECONDS="300", SECURE_SSL_REDIRECT="true")
    assert (s["SECURE_HSTS_SECONDS"], s["SECURE_SSL_REDIRECT"]) == (300, True)
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True


@pytest.mark.parametrize(
    "value, expected",
    [
        ("X-Forwarded-Proto,https", ["HTTP_X_FORWARDED_PROTO", "https"]),
        ("HTTP_X_FORWARDED_PROTO,https", ["HTTP_X_FORWARDED_PROTO", "https"]),
        (" x-forwarded-ssl , on ", ["HTTP_X_FORWARDED_SSL", "on"]),
        ("CloudFront-Forwarded-Proto,https", ["HTTP_CLOUDFRONT_FORWARDED_PROTO", "https"]),
    ],
)
def test_the_proxy_header_is_written_as_the_proxy_sends_it(tmp_path, value, expected):
    assert loaded(tmp_path, SECURE_PROXY_SSL_HEADER=value)["SECURE_PROXY_SSL_HEADER"] == expected


@pytest.mark.parametrize(
    "name, value",
    [
        ("SECURE_SSL_REDIRECT", "flase"),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "maybe"),
        ("SECURE_HSTS_PRELOAD", "2"),
        ("SECURE_HSTS_SECONDS", "-1"),
        ("SECURE_HSTS_SECONDS", "1y"),
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto"),
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto,"),
        ("SECURE_PROXY_SSL_HEADER", "X Forwarded Proto,https"),
        ("SESSION_IDLE_MINUTES", "0"),
        ("SESSION_IDLE_MINUTES", "1.5"),
        ("SESSION_MAX_HOURS", "twelve"),
    ],
)
def test_a_value_not_understood_stops_the_start_and_names_the_variable(tmp_path, name, value):
    result = start(tmp_path, **{name: value})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: " + name), last
    assert repr(value) in last
