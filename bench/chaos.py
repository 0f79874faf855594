"""Benchmark: approvals provisioned while the worker is SIGKILLed and AWS fails calls at random.

    .venv/bin/python bench/chaos.py [--requests 100] [--fault-rate 0.3] [--kill-every 10]
        [--kill-for 60] [--patience 300] [--interval 30] [--lease 20] [--seed N]

The stack is the one the system tests drive, and this script imports their helpers from
tests/system on purpose (stack.py, harness.py, faulty_aws.py): gunicorn, a Celery worker
and beat started with docker-compose.yml's commands, a PostgreSQL database of this run's
own on the server of ``harness.POSTGRES_URL`` (dropped at the end), the machine's Redis at
``harness.REDIS_URL`` under a key prefix of this run's own (its keys deleted at the end),
and a moto server behind ``FaultyAws``.

The world is set up through the API and management commands with no faults, and waited for
until every user and the access group are provisioned: an admin, an approver (bob), and
``--requests`` requesters, each asking for the one access group. Then, at once:

- the proxy answers ``--fault-rate`` of the Identity Center calls with ThrottlingException
  (400) or InternalServerException (500), until the end of the run;
- bob approves every request through the API, one after the other, each call timed;
- every ``--kill-every`` seconds for ``--kill-for`` seconds the worker and everything it
  forked are SIGKILLed and a new worker is started at once; beat keeps running.

After the last kill the database is read every few seconds until every request is active or
``--patience`` runs out. It prints how many were not yet active 30, 60, 120 and 300 s after
the last kill, what the stragglers' rows say, and what Identity Center holds (read from moto
directly, not through the proxy). It asserts nothing. The process logs are kept in a
temporary folder whose path is printed first.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402

from bench.databases import fresh_database  # noqa: E402
from provisioning.fake import FakeIdentityCenter  # noqa: E402
from tests.system.faulty_aws import FaultyAws  # noqa: E402
from tests.system.harness import (  # noqa: E402
    POSTGRES_URL,
    REDIS_URL,
    Proc,
    Processes,
    descendants,
    wait_until,
)
from tests.system.stack import BALANCER, Stack, start_stack  # noqa: E402

CHECKPOINTS = (30, 60, 120, 300)  # seconds after the last kill
POLL_SECONDS = 2
SHOWN = 20  # requests not active listed one by one
SETUP_TIMEOUT = 600  # onboarding N users on a busy machine takes a while

# One script for every requester's token: a management command per user would start Django
# a hundred times.
MAKE_TOKENS = """
from accessgroups.auth.tokens import api_token_create
from accessgroups.models import User
for username in {usernames!r}:
    user = User.objects.get(username=username)
    created = api_token_create(actor=None, user=user, name="bench", via="bench")
    print("TOKEN", username, created.key)
"""


# --- resources of this run -------------------------------------------------------------------


@contextmanager
def redis_broker() -> Iterator[dict[str, str]]:
    """Broker settings on the machine's Redis, with keys of this run's own, deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    client.ping()
    prefix = f"bench-chaos-{secrets.token_hex(4)}:"
    try:
        yield {"CELERY_BROKER_URL": REDIS_URL, "CELERY_BROKER_KEY_PREFIX": prefix}
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


@contextmanager
def moto_behind_proxy(log_dir: Path, seed: int) -> Iterator[tuple[FakeIdentityCenter, FaultyAws]]:
    with open(log_dir / "moto.log", "ab") as log:
        fake = FakeIdentityCenter(log=log)
        fake.start()
        proxy = FaultyAws(fake.endpoint_url, seed=seed).start()
        try:
            yield fake, proxy
        finally:
            proxy.stop()
            fake.stop()


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    bob: str
    group_id: int
    request_ids: list[int]


def set_up_world(stack: Stack, requesters: int) -> World:
    """Admin, bob, the requesters and their requests for one access group, all provisioned."""
    stack.manage(
        "createsuperuser", "createsuperuser", "--noinput",
        DJANGO_SUPERUSER_USERNAME="root", DJANGO_SUPERUSER_EMAIL="root@example.com",
        DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16),
    )
    admin = stack.token("root")
    usernames = [f"requester{n:03d}" for n in range(requesters)]
    for username in ["bob", *usernames]:
        stack.api("POST", "users/", admin, (201, 202), json={
            "username": username, "email": f"{username}@example.com",
            "given_name": username.capitalize(), "family_name": "Example",
        })
    stack.api("POST", "accounts/", admin, 201, json={"account_id": "111122223333", "name": "bench"})
    group = stack.api("POST", "access-groups/", admin, (201, 202), json={
        "name": "Developers", "accounts": ["111122223333"],
        "aws_managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"],
        "approvers": ["bob"], "requestable": True,
    })
    script = MAKE_TOKENS.format(usernames=["bob", *usernames])
    output = stack.manage("tokens", "shell", "-c", script)
    # The shell's output has the portal's log lines too.
    tokens = dict(line.split()[1:] for line in output.splitlines() if line.startswith("TOKEN "))
    request_ids = [
        stack.api("POST", "access-requests/", tokens[username], 201, json={
            "access_group": group["id"], "justification": "Chaos benchmark."})["id"]
        for username in usernames
    ]
    wait_until(
        lambda: provisioned(stack, group["id"], users=requesters + 1),
        timeout=SETUP_TIMEOUT, what="the users and the access group to be provisioned", interval=1,
    )
    return World(tokens["bob"], group["id"], request_ids)


def provisioned(stack: Stack, group_id: int, *, users: int) -> bool:
    in_sync = stack.sql(
        "SELECT COUNT(*) FROM accessgroups_user"
        " WHERE onboarding_requested AND provisioning_status = 'in_sync'"
    )[0][0]
    group = stack.sql(
        "SELECT provisioning_status FROM accessgroups_accessgroup WHERE id = %s", group_id
    )[0][0]
    return in_sync == users and group == "in_sync"


# --- chaos -----------------------------------------------------------------------------------


class Killer(threading.Thread):
    """SIGKILLs the worker every ``period`` seconds for ``duration`` and starts another at once."""

    def __init__(self, stack: Stack, worker: Proc, period: float, duration: float) -> None:
        super().__init__(name="killer", daemon=True)
        self.stack, self.worker, self.period, self.duration = stack, worker, period, duration
        self.kills: list[float] = []  # monotonic times
        self.kill_clock: list[float] = []  # the same as epoch seconds, as the database has them
        self.ready_after: list[float] = []  # seconds from a kill to the new worker's " ready."
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            started = time.monotonic()
            for n in range(1, int(self.duration // self.period) + 1):
                time.sleep(max(0.0, started + n * self.period - time.monotonic()))
                kill_tree(self.worker)
                self.kills.append(time.monotonic())
                self.kill_clock.append(time.time())
                self.worker = self.stack.start_worker(f"worker-{n}")
                self.ready_after.append(time.monotonic() - self.kills[-1])
        except BaseException as exc:  # raised again by main(): a thread's traceback is easy to miss
            self.error = exc


def kill_tree(proc: Proc) -> None:
    """SIGKILL a process and everything it forked, as the out-of-memory killer would."""
    for pid in {proc.pid, *descendants(proc.pid)}:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.process.wait()


def approve_all(stack: Stack, bob: str, request_ids: list[int]) -> list[tuple[int, float]]:
    """Bob approves each request; (HTTP status, seconds) per call."""
    answers = []
    for request_id in request_ids:
        began = time.monotonic()
        response = requests.post(
            f"{stack.base_url}/api/v1/access-requests/{request_id}/approve/",
            headers={"Authorization": f"Token {bob}", **BALANCER}, json={}, timeout=120,
        )
        answers.append((response.status_code, time.monotonic() - began))
    return answers


# --- observing -------------------------------------------------------------------------------


def statuses(stack: Stack) -> Counter[str]:
    rows = stack.sql("SELECT status, COUNT(*) FROM accessgroups_accessrequest GROUP BY status")
    return Counter(dict(rows))


# Seconds after the last kill, and the requests' statuses then.
Sample = tuple[float, Counter[str]]


def watch(stack: Stack, total: int, last_kill: float, patience: float) -> list[Sample]:
    """Request statuses every few seconds after the last kill, until all are active or the
    patience runs out."""
    samples = []
    while True:
        now = time.monotonic() - last_kill
        counts = statuses(stack)
        samples.append((now, counts))
        if counts["active"] == total or now >= patience:
            return samples
        time.sleep(POLL_SECONDS)


def not_active_at(samples: list[Sample], total: int, second: float) -> int | None:
    """Requests not active ``second`` s after the last kill (None: the watch ended before)."""
    seen = [counts for at, counts in samples if at <= second]
    if not seen or (samples[-1][0] < second and samples[-1][1]["active"] < total):
        return None
    return total - seen[-1]["active"]


@dataclass
class Straggler:
    request_id: int
    status: str
    membership_id: int | None
    membership_status: str | None
    activated: bool  # the membership's activation (which makes its requests active) ran
    provisioned_at: float | None  # epoch seconds: when the row was marked in sync
    last_error: str


def stragglers(stack: Stack) -> list[Straggler]:
    """The requests not active, with what their membership row says."""
    return [Straggler(*row) for row in stack.sql(
        "SELECT r.id, r.status, m.id, m.provisioning_status, m.activated_at IS NOT NULL,"
        " EXTRACT(EPOCH FROM m.provisioned_at)::float, COALESCE(NULLIF(m.last_error, ''), '-')"
        " FROM accessgroups_accessrequest r"
        " LEFT JOIN accessgroups_membership m ON m.id = r.membership_id"
        " WHERE r.status <> 'active' ORDER BY r.id"
    )]


def nearest_kill(at: float, kills: list[float]) -> str:
    """Where a moment lies relative to the closest kill, e.g. "0.12 s before kill 3"."""
    n, kill = min(enumerate(kills, 1), key=lambda pair: abs(pair[1] - at))
    return f"{abs(kill - at):.2f} s {'before' if at <= kill else 'after'} kill {n}"


@dataclass
class GroundTruth:
    memberships: int
    duplicates: int
    active: int
    without_request: int  # members in Identity Center with no active request
    without_member: int  # active requests with no member in Identity Center


def ground_truth(stack: Stack, group_id: int) -> GroundTruth:
    """The group's members in moto, read as a script would read AWS (not through the proxy)."""
    fake = stack.fake
    session = boto3.Session(
        aws_access_key_id="t", aws_secret_access_key="t", region_name=fake.region
    )
    sso_admin = session.client("sso-admin", endpoint_url=fake.endpoint_url)
    store = sso_admin.list_instances()["Instances"][0]["IdentityStoreId"]
    identitystore = session.client("identitystore", endpoint_url=fake.endpoint_url)
    ic_group = stack.sql(
        "SELECT identity_center_group_id FROM accessgroups_accessgroup WHERE id = %s", group_id
    )[0][0]
    members = [
        membership["MemberId"]["UserId"]
        for page in identitystore.get_paginator("list_group_memberships").paginate(
            IdentityStoreId=store, GroupId=ic_group)
        for membership in page["GroupMemberships"]
    ]
    active = {user_id for (user_id,) in stack.sql(
        "SELECT u.identity_center_user_id FROM accessgroups_accessrequest r"
        " JOIN accessgroups_user u ON u.id = r.requester_id WHERE r.status = 'active'")}
    return GroundTruth(
        memberships=len(members),
        duplicates=len(members) - len(set(members)),
        active=len(active),
        without_request=len(set(members) - active),
        without_member=len(active - set(members)),
    )


# --- report ----------------------------------------------------------------------------------


def seconds(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} s, max {max(values):.2f} s" if values else "none"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} ({os.cpu_count()} cores)"


def print_report(
    args: argparse.Namespace,
    answers: list[tuple[int, float]],
    proxy: FaultyAws,
    calls: int,
    killer: Killer,
    samples: list[Sample],
    first_approval: float,
    stuck: list[Straggler],
    truth: GroundTruth,
) -> None:
    total = args.requests
    codes = Counter(status for status, _ in answers)
    answered = ", ".join(f"HTTP {code}: {n}" for code, n in sorted(codes.items()))
    print(f"approvals: {len(answers)} ({answered}); "
          f"approve latency {seconds([s for _, s in answers])}")
    faults = sum(proxy.faults.values())
    print(f"faults injected: {faults} of {calls} Identity Center calls "
          f"({', '.join(f'{code} {n}' for code, n in sorted(proxy.faults.items())) or 'none'})")
    print(f"kills: {len(killer.kills)} (new worker ready after {seconds(killer.ready_after)})")
    checkpoints = []
    for second in CHECKPOINTS:
        left = not_active_at(samples, total, second)
        checkpoints.append(f"{second} s: {'not watched' if left is None else left}")
    print("not yet active after the last kill: " + ", ".join(checkpoints))
    last_kill = killer.kills[-1]
    at, counts = samples[-1]
    if counts["active"] == total:
        print(f"all {total} active {at:.1f} s after the last kill "
              f"({at + last_kill - first_approval:.1f} s after the first approval)")
    else:
        print(f"after {at:.0f} s, {total - counts['active']} not active: "
              + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()) if s != "active"))
        for row in stuck[:SHOWN]:
            when = (f", marked in sync {nearest_kill(row.provisioned_at, killer.kill_clock)}"
                    if row.provisioned_at is not None else "")
            print(f"  request {row.request_id} {row.status}: membership {row.membership_id} "
                  f"{row.membership_status}, {'activated' if row.activated else 'not activated'}"
                  f"{when}; last error: {row.last_error}")
        if len(stuck) > SHOWN:
            print(f"  ... and {len(stuck) - SHOWN} more")
    print(f"failed requests: {counts['failed']}")
    print(f"Identity Center (moto, read directly): {truth.memberships} group memberships for "
          f"{truth.active} active requests; duplicates {truth.duplicates}; members with no active "
          f"request {truth.without_request}; active requests with no member {truth.without_member}")


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="requesters, one approval each")
    parser.add_argument(
        "--fault-rate", type=float, default=0.3, help="share of Identity Center calls failed"
    )
    parser.add_argument("--kill-every", type=float, default=10, help="seconds between worker kills")
    parser.add_argument("--kill-for", type=float, default=60, help="seconds of kills")
    parser.add_argument(
        "--patience", type=float, default=300, help="seconds watched after the last kill"
    )
    parser.add_argument("--interval", type=int, default=30, help="RECONCILE_INTERVAL_SECONDS")
    parser.add_argument("--lease", type=int, default=20, help="PROVISIONING_LEASE_SECONDS")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the fault draw (default: random)"
    )
    args = parser.parse_args()
    if args.kill_for < args.kill_every:
        parser.error("--kill-for must allow at least one kill (>= --kill-every)")
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-chaos-"))

    print(f"{args.requests} approvals; {args.fault_rate:.0%} of Identity Center calls fail; worker "
          f"SIGKILLed every {args.kill_every:g} s for {args.kill_for:g} s; dispatcher every "
          f"{args.interval} s, lease {args.lease} s; patience {args.patience:g} s; seed {seed}")
    print(f"load average at start: {load()}; process logs in {log_dir}", flush=True)
    processes = Processes(log_dir)
    with ExitStack() as cleanup:
        database_url = cleanup.enter_context(fresh_database(POSTGRES_URL, "bench_chaos"))
        broker = cleanup.enter_context(redis_broker())
        fake, proxy = cleanup.enter_context(moto_behind_proxy(log_dir, seed))
        cleanup.callback(processes.stop_all)
        stack = start_stack(
            processes,
            database_url=database_url,
            fake=fake,
            var_dir=log_dir / "var",
            RECONCILE_INTERVAL_SECONDS=str(args.interval),
            PROVISIONING_LEASE_SECONDS=str(args.lease),
            AWS_ENDPOINT_URL=proxy.endpoint_url,
            EMAIL_URL="console://",
            SECURE_SSL_REDIRECT="0",
            # The admin sets up a hundred users in a minute: more than a person's API allowance.
            API_THROTTLE_USER="100000/minute",
            **broker,
        )
        began = time.monotonic()
        world = set_up_world(stack, args.requests)
        print(f"set up {args.requests} requesters in {time.monotonic() - began:.0f} s", flush=True)

        calls_before = proxy.calls
        proxy.fault_rate = args.fault_rate
        worker = next(p for p in processes.started if p.name == "worker")
        killer = Killer(stack, worker, args.kill_every, args.kill_for)
        killer.start()
        first_approval = time.monotonic()
        answers = approve_all(stack, world.bob, world.request_ids)
        killer.join()
        if killer.error is not None:
            raise killer.error
        samples = watch(stack, args.requests, killer.kills[-1], args.patience)
        print_report(
            args, answers, proxy, proxy.calls - calls_before, killer, samples, first_approval,
            stragglers(stack), ground_truth(stack, world.group_id),
        )
    print(f"load average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
