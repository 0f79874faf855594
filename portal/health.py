"""``/healthz`` and ``/readyz``: is the process up, and can it reach what it needs?

Both are answered by a middleware placed before every other one, so a probe needs no
session, no sign-in, no allowed Host (a balancer probes by IP address), is never
redirected to HTTPS, never throttled, and never touches the database unless it asks
``/readyz`` to check it.

- ``/healthz``: 200 ``ok`` when the process answers; nothing else is checked.
- ``/readyz``: 200 when the database, the Celery broker and the Redis of the limits and
  the cache are reachable, else 503; the JSON body gives each check's state, ``ok``,
  ``not configured`` or ``unreachable: <why>``. Checks run side by side, each with its
  own short timeout, so the probe answers within about ``CHECK_TIMEOUT_SECONDS`` however
  many servers are gone.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from redis.backoff import NoBackoff
from redis.retry import Retry

CHECK_TIMEOUT_SECONDS = 2.0
OK = "ok"
NOT_CONFIGURED = "not configured"

HEALTHZ = ("/healthz", "/healthz/")
READYZ = ("/readyz", "/readyz/")

# What kombu's filesystem transport needs (settings.CELERY_BROKER_TRANSPORT_OPTIONS).
_BROKER_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
# user:password@ in a URL, wherever it appears in an error's words.
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


class HealthCheckMiddleware:
    """First in MIDDLEWARE: answers the probes before anything else runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path in HEALTHZ or path in READYZ:
            if request.method not in ("GET", "HEAD"):
                response = HttpResponse(status=405)
                response["Allow"] = "GET, HEAD"
            elif path in HEALTHZ:
                response = HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
            else:
                states = readiness()
                ready = all(state in (OK, NOT_CONFIGURED) for state in states.values())
                response = JsonResponse(states, status=200 if ready else 503)
            # A proxy must never answer a probe from its cache.
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)


def readiness(timeout: float = CHECK_TIMEOUT_SECONDS) -> dict[str, str]:
    """Every check's state, run side by side; a check still running at ``timeout`` is
    reported unreachable and left to finish on its own (its own timeouts end it)."""
    checks: dict[str, Callable[[], str]] = {
        "database": check_database,
        "broker": check_broker,
        "limits": check_limits,
        "cache": check_cache,
    }
    states: dict[str, str] = {}
    threads = []
    for name, check in checks.items():
        thread = threading.Thread(
            target=_run, args=(check, name, states), name=f"readyz-{name}", daemon=True
        )
        thread.start()
        threads.append((name, thread))
    deadline = time.monotonic() + timeout
    for _name, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {
        name: states.get(name, f"unreachable: no answer within {timeout:g} s")
        for name in checks
    }


def _run(check: Callable[[], str], name: str, states: dict[str, str]) -> None:
    try:
        states[name] = check()
    # A probe reports every failure as a state, whatever raised it: it must answer 503
    # with the reason, never 500 without one.
    except Exception as exc:  # noqa: BLE001
        states[name] = f"unreachable: {short_reason(exc)}"


def short_reason(exc: BaseException) -> str:
    """The first line of an error, with any URL's credentials and known secrets removed."""
    words = (str(exc).strip().splitlines() or [""])[0]
    words = _CREDENTIALS.sub("***@", words)
    for secret in _secrets():
        words = words.replace(secret, "***")
    words = words[:160]
    return f"{type(exc).__name__}: {words}" if words else type(exc).__name__


def _secrets() -> list[str]:
    found = [str(db.get("PASSWORD") or "") for db in settings.DATABASES.values()]
    for url in _redis_urls() + [settings.CELERY_BROKER_URL]:
        found.append(unquote(urlsplit(url).password or ""))
    return [s for s in found if len(s) >= 3]


# --- the checks ---------------------------------------------------------------------------


def check_database(alias: str = "default") -> str:
    """A connection of its own (never the request's) runs ``SELECT 1``."""
    from django.db import connections
    from django.db.utils import load_backend

    settings_dict = dict(connections.settings[alias])
    if "postgresql" in settings_dict["ENGINE"]:
        options = dict(settings_dict.get("OPTIONS") or {})
        options["connect_timeout"] = max(1, int(CHECK_TIMEOUT_SECONDS))
        settings_dict["OPTIONS"] = options
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()
    return OK


def check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    scheme = url.partition("://")[0].lower()
    if scheme == "filesystem":
        # Folders shared with the embedded worker; writing a probe file into the queue
        # would deliver it as a message, so permissions are checked instead.
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        for key in _BROKER_FOLDERS:
            folder = options.get(key)
            if folder and not os.path.isdir(folder):
                raise FileNotFoundError(f"broker folder {key} does not exist")
            if folder and not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(f"broker folder {key} is not writable")
        return OK
    if scheme in ("redis", "rediss", "unix"):
        return ping_redis(url)
    return _connect_kombu(url)


def check_limits() -> str:
    """The Redis of the fleet-wide AWS limits, when there is one."""
    url = getattr(settings, "PROVISIONING_REDIS_URL", "") or ""
    return ping_redis(url) if url else NOT_CONFIGURED


def check_cache() -> str:
    """The Redis of the sign-in limits and API throttles, when the cache is in Redis."""
    url = _cache_redis_url()
    return ping_redis(url) if url else NOT_CONFIGURED


def ping_redis(url: str) -> str:
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        # One attempt: a retry would only make the probe slower to say the same.
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    finally:
        client.close()
    return OK


def _connect_kombu(url: str) -> str:
    from kombu import Connection

    options: dict[str, Any] = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    with Connection(
        url, connect_timeout=CHECK_TIMEOUT_SECONDS, transport_options=options
    ) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
    return OK


def _cache_redis_url() -> str:
    cache = settings.CACHES.get("default", {})
    if not str(cache.get("BACKEND", "")).endswith("RedisCache"):
        return ""
    location = cache.get("LOCATION") or ""
    servers = location if isinstance(location, list | tuple) else re.split("[;,]", location)
    return servers[0] if servers else ""


def _redis_urls() -> list[str]:
    return [u for u in (getattr(settings, "PROVISIONING_REDIS_URL", ""), _cache_redis_url()) if u]
