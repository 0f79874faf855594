"""/api/schema/ on a cold process: many requests at once, right after start, all answered
alike. drf-spectacular loads its extensions lazily and not thread-safely; before the schema
was built under a lock, five parallel requests to a fresh gunicorn got several 500s."""

from __future__ import annotations

import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from provisioning.fake import free_port
from tests.system.harness import VENV_BIN, Processes, compose_command, portal_env

pytestmark = pytest.mark.slow

REQUESTS = 10


def wait_for_port(port: int, proc, timeout: float = 30) -> None:
    """Wait until gunicorn listens; a connection made now queues for the worker, which has
    not served anything yet (the schema URL is not asked before the burst)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.alive(), f"{proc.name} exited before it listened"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on {port} within {timeout:.0f} s")


@pytest.mark.parametrize("start", [1, 2])
def test_a_burst_of_schema_requests_on_a_cold_process(
    processes: Processes, tmp_path: Path, start: int
) -> None:
    env = portal_env(
        SECRET_KEY=secrets.token_urlsafe(40),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        PORTAL_VAR_DIR=str(tmp_path / "var"),
        # Plain HTTP straight to gunicorn; the redirect to HTTPS is test_production_stack's.
        SECURE_SSL_REDIRECT="0",
    )
    # As every deployment does before it serves: the database, and the cache table that the
    # anonymous API throttle counts in when no Redis is configured.
    processes.run(f"migrate-{start}", compose_command("migrate"), env=env, timeout=300)
    port = free_port()
    # One worker with eight threads: the requests meet inside one fresh process.
    web = processes.start(
        f"gunicorn-{start}",
        [str(VENV_BIN / "gunicorn"), "portal.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "8"],
        env=env,
    )
    wait_for_port(port, web)
    url = f"http://127.0.0.1:{port}/api/schema/"
    with ThreadPoolExecutor(REQUESTS) as pool:
        answers = list(pool.map(lambda _: requests.get(url, timeout=120), range(REQUESTS)))

    assert [a.status_code for a in answers] == [200] * REQUESTS, web.log()[-3000:]
    assert len({a.content for a in answers}) == 1
    assert b"/api/v1/access-requests/" in answers[0].content
    assert "Traceback" not in web.log()
