"""A delayed start, reminders and a time-out on the real stack: beat sends the sweeps.

gunicorn, a Celery worker and beat run as docker-compose.yml runs them, against PostgreSQL,
Redis, a moto server and an SMTP server on localhost. Beat runs the start, time-out and
reminder sweeps every few seconds here; the test makes a request old by moving its
``created_at`` back in the database, as the hours would.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from tests.mail.conftest import MailServer
from tests.system.harness import REDIS_URL, wait_until
from tests.system.stack import Stack, start_stack
from tests.system.test_access_ends import World

pytestmark = pytest.mark.slow

SWEEP = 2  # seconds between the sweeps


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = MailServer()
    server.port = port
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    yield server
    controller.stop()


@pytest.fixture
def stack(processes, postgres_url, fake_identity_center, smtp, tmp_path) -> Iterator[Stack]:
    prefix = f"test-timing-{secrets.token_hex(4)}:"
    yield start_stack(
        processes,
        database_url=postgres_url,
        fake=fake_identity_center,
        var_dir=tmp_path / "var",
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_BROKER_KEY_PREFIX=prefix,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        SECURE_SSL_REDIRECT="0",
        PENDING_REQUEST_TTL_HOURS="6",
        REQUEST_START_SWEEP_SECONDS=str(SWEEP),
        REQUEST_TIMEOUT_SWEEP_SECONDS=str(SWEEP),
        APPROVAL_REMINDER_SWEEP_SECONDS=str(SWEEP),
    )
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def mails(server: MailServer, text: str) -> list[str]:
    return sorted(address for address, subject in server.received if text in subject)


def age(stack: Stack, request_id: int, hours: float) -> None:
    stack.sql(
        "UPDATE accessgroups_accessrequest SET created_at = now() - %s WHERE id = %s",
        timedelta(hours=hours), request_id,
    )


def test_reminded_timed_out_asked_again_and_started_later(stack: Stack, smtp: MailServer) -> None:
    world = World(stack)
    world.wait_group_in_sync()

    # Waiting 5 hours: bob is reminded once, however many sweeps run.
    first = world.request()
    age(stack, first["id"], 5)
    wait_until(lambda: mails(smtp, "Waiting for you") == ["bob@example.com"],
               timeout=60, what="the reminder to bob", interval=0.5)
    time.sleep(SWEEP * 3)  # more sweeps
    assert mails(smtp, "Waiting for you") == ["bob@example.com"]

    # Past PENDING_REQUEST_TTL_HOURS: timed out, alice told, bob told it is no longer waiting.
    age(stack, first["id"], 7)
    world.wait_status(first["id"], "timed_out", timeout=60)
    wait_until(lambda: mails(smtp, "Timed out") == ["alice@example.com"]
               and mails(smtp, "No longer waiting") == ["bob@example.com"],
               timeout=60, what="the time-out mails", interval=0.5)

    # Asked again, to start in a few seconds: approved at once, set up only from the start.
    starts = datetime.now(UTC) + timedelta(seconds=12)
    again = stack.api("POST", "access-requests/", world.alice, 201, json={
        "access_group": world.group["id"], "justification": "Debug the build.",
        "starts_at": starts.isoformat()})
    approved = stack.api("POST", f"access-requests/{again['id']}/approve/", world.bob, 202,
                        json={"comment": "release day"})
    assert approved["status"] == "approved" and approved["starts_at"]
    assert world.members() == []
    world.wait_status(again["id"], "active", timeout=90)
    assert datetime.now(UTC) >= starts
    assert len(world.members()) == 1
    activated = stack.sql(
        "SELECT m.activated_at FROM accessgroups_membership m JOIN accessgroups_accessrequest r "
        "ON r.membership_id = m.id WHERE r.id = %s", again["id"])[0][0]
    assert activated >= starts
