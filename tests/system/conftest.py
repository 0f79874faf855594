"""Fixtures for tests that run the portal as real processes.

PostgreSQL and Redis are the machine's own (a fresh database per test, a Redis key
prefix per test). Without them a test is skipped on a developer's machine and fails when
the environment variable CI is set, so CI cannot go green by skipping.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from provisioning.fake import FakeIdentityCenter
from tests.system.harness import POSTGRES_URL, REDIS_URL, REPO, Processes, require


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    processes = getattr(item, "_processes", None)
    if processes is None or not report.failed:
        return
    report.sections.append(("process logs", processes.report()))
    # CI keeps test-artifacts/: the whole logs are there, not only their tails.
    target = REPO / "test-artifacts" / "system" / item.name
    shutil.copytree(processes.log_dir, target, dirs_exist_ok=True)


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path / "logs")
    request.node._processes = procs
    yield procs
    procs.stop_all()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own, created for the test and dropped after it."""
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        require(False, f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    name = f"test_system_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_URL.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_broker() -> Iterator[dict[str, str]]:
    """Broker settings of a portal on the machine's Redis, with keys of its own."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        require(False, f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"test-system-{secrets.token_hex(4)}:"
    yield {"CELERY_BROKER_URL": REDIS_URL, "CELERY_BROKER_KEY_PREFIX": prefix}
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def fake_identity_center(processes: Processes) -> Iterator[FakeIdentityCenter]:
    """A moto server over HTTP, standing in for AWS."""
    log = open(processes.log_dir / "moto.log", "ab")
    fake = FakeIdentityCenter(log=log)
    fake.start()
    yield fake
    fake.stop()
    log.close()
