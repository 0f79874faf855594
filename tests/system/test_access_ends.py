"""Nothing is lost between the database and Identity Center, on the real stack.

gunicorn, a Celery worker and beat run as docker-compose.yml runs them, against PostgreSQL,
Redis and a moto server. Redis is reached through a TCP proxy the test can cut (the portal
sees Redis gone; the machine's Redis keeps serving everyone else), and AWS through an HTTP
proxy that can refuse chosen operations. The dispatcher runs every few seconds here
(``RECONCILE_INTERVAL_SECONDS``) so that what it recovers shows up within a test's patience.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
import redis
from aiosmtpd.controller import Controller

from provisioning.fake import FakeIdentityCenter
from tests.mail.conftest import MailServer
from tests.netproxy import TcpProxy
from tests.system.faulty_aws import FaultyAws
from tests.system.harness import REDIS_URL, Processes, descendants, wait_until
from tests.system.stack import MANAGE, Stack, start_stack

pytestmark = pytest.mark.slow

INTERVAL = 3  # seconds between dispatcher runs
LEASE = 6  # seconds a claim holds without renewal


@pytest.fixture
def redis_proxy() -> Iterator[tuple[TcpProxy, dict[str, str]]]:
    """The portal's Redis, through a proxy the test can cut; keys of its own."""
    host_port, _, db = REDIS_URL.removeprefix("redis://").partition("/")
    host, _, port = host_port.partition(":")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    client.ping()
    proxy = TcpProxy(host, int(port or 6379)).start()
    prefix = f"test-ends-{secrets.token_hex(4)}:"
    env = {
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{proxy.port}/{db or 0}",
        "CELERY_BROKER_KEY_PREFIX": prefix,
    }
    yield proxy, env
    proxy.stop()
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def faulty_aws(fake_identity_center: FakeIdentityCenter) -> Iterator[FaultyAws]:
    proxy = FaultyAws(fake_identity_center.endpoint_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[MailServer, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = MailServer()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    yield server, port
    controller.stop()


@pytest.fixture
def stack(processes, postgres_url, redis_proxy, fake_identity_center, faulty_aws, smtp, tmp_path) -> Stack:
    _, redis_env = redis_proxy
    _, smtp_port = smtp
    return start_stack(
        processes,
        database_url=postgres_url,
        fake=fake_identity_center,
        var_dir=tmp_path / "var",
        RECONCILE_INTERVAL_SECONDS=str(INTERVAL),
        PROVISIONING_LEASE_SECONDS=str(LEASE),
        AWS_ENDPOINT_URL=faulty_aws.endpoint_url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        SECURE_SSL_REDIRECT="0",
        **redis_env,
    )


class World:
    """An admin, an approver (bob), a requester (alice) and a provisioned access group."""

    def __init__(self, stack: Stack, *, accounts: int = 1) -> None:
        self.stack = stack
        stack.manage(
            "createsuperuser", "createsuperuser", "--noinput",
            DJANGO_SUPERUSER_USERNAME="root", DJANGO_SUPERUSER_EMAIL="root@example.com",
            DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16),
        )
        self.admin = stack.token("root")
        for username in ("bob", "alice"):
            stack.api("POST", "users/", self.admin, (201, 202), json={
                "username": username, "email": f"{username}@example.com",
                "given_name": username.capitalize(), "family_name": "Example",
            })
        self.account_ids = [f"1111222{i:05d}" for i in range(accounts)]
        for account_id in self.account_ids:
            stack.api("POST", "accounts/", self.admin, 201, json={"account_id": account_id, "name": f"a{account_id}"})
        self.alice, self.bob = stack.token("alice"), stack.token("bob")
        # Last: its provisioning starts at once.
        self.group = stack.api("POST", "access-groups/", self.admin, (201, 202), json={
            "name": "Developers", "accounts": self.account_ids,
            "aws_managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"],
            "approvers": ["bob"], "requestable": True,
        })

    def wait_group_in_sync(self, timeout: float = 120) -> None:
        wait_until(
            lambda: self.stack.api("GET", f"access-groups/{self.group['id']}/", self.admin, 200)[
                "provisioning_status"] == "in_sync",
            timeout=timeout, what="the access group to be provisioned", interval=0.5,
        )

    def request(self) -> dict:
        return self.stack.api("POST", "access-requests/", self.alice, 201, json={
            "access_group": self.group["id"], "justification": "Debug the build."})

    def status(self, request_id: int) -> str:
        return self.stack.api("GET", f"access-requests/{request_id}/", self.alice, 200)["status"]

    def wait_status(self, request_id: int, wanted: str, timeout: float = 90) -> float:
        start = time.monotonic()
        wait_until(lambda: self.status(request_id) == wanted, timeout=timeout,
                   what=f"request {request_id} to be {wanted}", interval=0.5)
        return time.monotonic() - start

    # What the moto server holds, read as a script would read AWS.
    def members(self) -> list[str]:
        fake = self.stack.fake
        session = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=fake.region)
        store = session.client("sso-admin", endpoint_url=fake.endpoint_url).list_instances()["Instances"][0]["IdentityStoreId"]
        identitystore = session.client("identitystore", endpoint_url=fake.endpoint_url)
        group_id = self.stack.sql(
            "SELECT identity_center_group_id FROM accessgroups_accessgroup WHERE id = %s", self.group["id"])[0][0]
        found = identitystore.list_group_memberships(IdentityStoreId=store, GroupId=group_id)["GroupMemberships"]
        return [m["MemberId"]["UserId"] for m in found]

    def who_has_access(self) -> list[tuple[str, str]]:
        rows = self.stack.api("GET", "reports/who-has-access/", self.admin, 200)["results"]
        return [(row["username"], row["state"]) for row in rows]


def revive_workers(stack: Stack) -> list[str]:
    """Start again any worker that exited, as docker-compose's ``restart: unless-stopped`` does.

    A Celery worker (kombu 5.7) may exit when its broker connection drops while it holds an
    unacknowledged message ("Unrecoverable error" while restoring it). Whatever it held is
    in the database still, and the dispatcher sends it again.
    """
    revived = []
    for proc in list(stack.processes.started):
        if proc.name.startswith("worker") and not proc.alive() and proc.name not in stack.replaced:
            stack.replaced.add(proc.name)
            name = f"worker-{len(stack.replaced) + 1}"
            stack.start_worker(name)
            revived.append(proc.name)
    return revived


def test_redis_gone_at_approve_and_revoke_loses_nothing(stack: Stack, redis_proxy) -> None:
    proxy, _ = redis_proxy
    world = World(stack)
    world.wait_group_in_sync()
    request = world.request()

    proxy.cut()
    started = time.monotonic()
    approved = stack.api("POST", f"access-requests/{request['id']}/approve/", world.bob, (200, 202), timeout=60, json={"comment": "on call"})
    answered_in = time.monotonic() - started
    assert approved["status"] in ("approved", "provisioning")
    time.sleep(INTERVAL * 2)  # the dispatcher cannot reach the workers either
    assert world.members() == []

    proxy.restore()
    revived = revive_workers(stack)
    world.wait_status(request["id"], "active")
    assert len(world.members()) == 1

    proxy.cut()
    revoked = stack.api("POST", f"access-requests/{request['id']}/revoke/", world.alice, (200, 202), timeout=60, json={})
    assert revoked["status"] == "revoked"
    assert world.who_has_access() == [("alice", "removal_pending")]
    proxy.restore()
    revived += revive_workers(stack)
    wait_until(lambda: world.members() == [], timeout=90, what="the membership to be removed", interval=0.5)
    wait_until(lambda: world.who_has_access() == [], timeout=30, what="the report to confirm it", interval=0.5)
    print(f"approve answered in {answered_in:.1f} s with Redis gone; workers restarted: {revived}")


APPROVE_THEN_DIE = """
import os
from django.db import transaction
from accessgroups.access.services import access_request_approve
from accessgroups.models import AccessRequest, User
request = AccessRequest.objects.get(pk={request_id})
with transaction.atomic():
    # Runs first of the on-commit callbacks: the process dies after the commit, before the
    # provisioning task is sent.
    transaction.on_commit(lambda: os._exit(9))
    access_request_approve(
        access_request=request, approver=User.objects.get(username="bob"), comment="on call"
    )
"""


def test_a_web_process_dying_between_commit_and_send_loses_nothing(stack: Stack) -> None:
    world = World(stack)
    world.wait_group_in_sync()
    request = world.request()

    died = subprocess.run(
        [*MANAGE, "shell", "-c", APPROVE_THEN_DIE.format(request_id=request["id"])],
        env=stack.env, capture_output=True, text=True, timeout=120,
    )
    assert died.returncode == 9, died.stderr
    assert world.status(request["id"]) == "approved"  # committed; nothing was sent

    took = world.wait_status(request["id"], "active", timeout=60 + INTERVAL * 3)
    assert len(world.members()) == 1
    print(f"recovered by the dispatcher in {took:.1f} s")


def test_a_worker_killed_mid_task_is_taken_over_within_the_interval(stack: Stack, processes: Processes) -> None:
    # A group on 30 accounts at 2 sso-admin calls per second: its first run takes long
    # enough (over half a minute) to be killed in the middle.
    processes.stop(next(p for p in processes.started if p.name == "worker"), sig=signal.SIGTERM)
    stack.env["SSO_ADMIN_TPS"] = "2"
    worker = stack.start_worker("slow-worker")
    world = World(stack, accounts=30)
    wait_until(
        lambda: stack.sql("SELECT provisioning_status FROM accessgroups_accessgroup WHERE id = %s",
                          world.group["id"])[0][0] == "provisioning",
        timeout=60, what="the worker to claim the group", interval=0.2,
    )
    time.sleep(3)  # some of the work done, most of it not
    for pid in {worker.pid, *descendants(worker.pid)}:
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()

    stack.env["SSO_ADMIN_TPS"] = "20"
    stack.start_worker("worker-2")
    world.wait_group_in_sync(timeout=LEASE + INTERVAL + 60)
    took = time.monotonic() - killed_at
    # Taken over once the lease ran out (LEASE), at the dispatcher's next run (INTERVAL),
    # plus the rest of the work.
    assert took < LEASE + INTERVAL + 45, took
    fake = stack.fake
    session = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=fake.region)
    sso = session.client("sso-admin", endpoint_url=fake.endpoint_url)
    instance = sso.list_instances()["Instances"][0]["InstanceArn"]
    arn = stack.sql("SELECT permission_set_arn FROM accessgroups_accessgroup WHERE id = %s", world.group["id"])[0][0]
    for account_id in world.account_ids:
        assigned = sso.list_account_assignments(InstanceArn=instance, AccountId=account_id, PermissionSetArn=arn)
        assert len(assigned["AccountAssignments"]) == 1, account_id
    print(f"taken over and finished {took:.1f} s after the kill")


def test_a_refused_removal_is_reported_alerted_and_completed_without_an_admin(
    stack: Stack, faulty_aws: FaultyAws, smtp
) -> None:
    mail, _ = smtp
    world = World(stack)
    world.wait_group_in_sync()
    request = world.request()
    stack.api("POST", f"access-requests/{request['id']}/approve/", world.bob, (200, 202), json={"comment": "on call"})
    world.wait_status(request["id"], "active")
    membership_id = stack.sql(
        "SELECT membership_id FROM accessgroups_accessrequest WHERE id = %s", request["id"])[0][0]

    faulty_aws.refuse("DeleteGroupMembership", "AccessDeniedException", 403)
    stack.api("POST", f"access-requests/{request['id']}/revoke/", world.alice, (200, 202), json={})
    wait_until(
        lambda: "retried until it succeeds" in (stack.sql(
            "SELECT last_error FROM accessgroups_membership WHERE id = %s", membership_id)[0][0] or ""),
        timeout=60, what="the refused removal to be recorded", interval=0.5,
    )
    assert stack.sql("SELECT provisioning_status FROM accessgroups_membership WHERE id = %s",
                     membership_id)[0][0] in ("pending", "provisioning")
    assert world.who_has_access() == [("alice", "removal_pending")]
    assert len(world.members()) == 1

    # Half an hour passes (the alert's delay): the dispatcher's next run mails the admins.
    stack.sql(
        "UPDATE accessgroups_membership SET granted_at = granted_at - %s, activated_at = activated_at - %s,"
        " ended_at = ended_at - %s WHERE id = %s",
        timedelta(minutes=40), timedelta(minutes=40), timedelta(minutes=31), membership_id,
    )
    wait_until(lambda: any("Access not yet removed" in subject for _, subject in mail.received),
               timeout=60, what="the alert mail", interval=0.5)
    alerts = [address for address, subject in mail.received if "Access not yet removed" in subject]
    assert alerts == ["root@example.com"]

    # Refused again at the next try: the worker keeps at it on its own.
    wait_until(lambda: faulty_aws.refused.get("DeleteGroupMembership", 0) >= 2, timeout=60,
               what="the removal to be tried again", interval=0.5)
    faulty_aws.allow("DeleteGroupMembership")
    # The next retry (at most a few backoff steps away) removes it; nobody retries by hand.
    wait_until(lambda: world.members() == [], timeout=150, what="the removal to complete", interval=1)
    wait_until(lambda: world.who_has_access() == [], timeout=30, what="the report to confirm", interval=0.5)
    # One mail per removal, however many dispatcher runs saw it pending.
    assert [a for a, subject in mail.received if "Access not yet removed" in subject] == alerts
