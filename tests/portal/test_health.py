"""/healthz says the process answers; /readyz says whether what it needs can be reached."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client

from portal import health
from portal.env import cache_from_url

BROKER_FOLDERS = ("queue", "processed", "control")


@pytest.fixture
def embedded(settings, tmp_path: Path) -> Path:
    """The embedded default: a filesystem broker under tmp_path, no Redis anywhere."""
    broker = tmp_path / "broker"
    for folder in BROKER_FOLDERS:
        (broker / folder).mkdir(parents=True)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "processed_folder": str(broker / "processed"),
        "control_folder": str(broker / "control"),
    }
    settings.PROVISIONING_REDIS_URL = ""
    return broker


def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def readyz(**headers: str) -> tuple[int, dict[str, str]]:
    response = Client().get("/readyz", headers=headers)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, json.loads(response.content)


def test_healthz_answers_with_no_database_session_host_check_or_redirect(settings):
    # No `db` fixture: a query would fail the request. Nor is the Host an allowed one, and
    # plain HTTP would be redirected anywhere else.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["access.example.com"]
    response = Client().get("/healthz", headers={"Host": "10.0.3.7:8000"})

    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies
    assert Client().get("/healthz/").status_code == 200
    assert Client().head("/healthz").status_code == 200
    assert Client().post("/healthz").status_code == 405


def test_readyz_embedded_default_is_ready_without_redis(db, embedded):
    status, states = readyz(Host="10.0.3.7")

    assert status == 200
    assert states == {
        "database": "ok",
        "broker": "ok",
        "limits": "not configured",
        "cache": "not configured",
    }


def test_readyz_a_missing_broker_folder_is_not_ready(db, embedded):
    (embedded / "control").rmdir()

    status, states = readyz()

    assert status == 503
    assert states["broker"] == (
        "unreachable: FileNotFoundError: broker folder control_folder does not exist"
    )
    assert states["database"] == "ok"


def test_readyz_an_unreachable_database_is_not_ready_and_its_password_not_shown(
    db, embedded, monkeypatch
):
    down = dict(connections.settings["default"])
    if "sqlite" in down["ENGINE"]:
        down["NAME"] = "/nonexistent/folder/portal.sqlite3"
    else:
        down.update(HOST="127.0.0.1", PORT=str(closed_port()), PASSWORD="db-password-s3cret")
    # Only connections made from now on see the bad address: the test's own stays open.
    monkeypatch.setitem(connections.settings, "default", down)

    status, states = readyz()

    assert status == 503
    assert states["database"].startswith("unreachable: OperationalError")
    assert "s3cret" not in json.dumps(states)
    assert states["broker"] == "ok"


def test_readyz_with_redis_everything_is_checked_and_a_cut_says_which(
    db, settings, proxied_redis
):
    settings.CELERY_BROKER_URL = proxied_redis.url
    settings.PROVISIONING_REDIS_URL = proxied_redis.url
    settings.CACHES = {"default": cache_from_url(proxied_redis.url, proxied_redis.prefix)}

    assert readyz() == (200, {"database": "ok", "broker": "ok", "limits": "ok", "cache": "ok"})

    proxied_redis.proxy.cut()
    # As production writes them: the password must never reach the answer.
    with_password = f"redis://:redis-pass-s3cret@127.0.0.1:{proxied_redis.proxy.port}/15"
    settings.CELERY_BROKER_URL = with_password
    settings.PROVISIONING_REDIS_URL = with_password
    status, states = readyz()

    assert status == 503
    assert states["database"] == "ok"
    for name in ("broker", "limits", "cache"):
        assert states[name].startswith("unreachable: ConnectionError"), states[name]
    assert "s3cret" not in json.dumps(states)

    proxied_redis.proxy.restore()
    settings.CELERY_BROKER_URL = settings.PROVISIONING_REDIS_URL = proxied_redis.url
    assert readyz()[0] == 200


def test_readyz_answers_in_about_two_seconds_when_redis_does_not_answer(db, embedded, settings):
    # A server that takes connections and never answers: each check's own timeout ends it.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        settings.PROVISIONING_REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        started = time.monotonic()
        status, states = readyz()
        took = time.monotonic() - started
    finally:
        silent.close()

    assert status == 503
    assert states["limits"].startswith("unreachable: "), states
    assert states["database"] == states["broker"] == "ok"
    assert took < health.CHECK_TIMEOUT_SECONDS + 1


def test_short_reason_hides_credentials_in_urls():
    error = ConnectionError("cannot reach redis://portal:hunter22@cache.internal:6379/0 now\nmore")

    assert health.short_reason(error) == (
        "ConnectionError: cannot reach redis://***@cache.internal:6379/0 now"
    )
