"""Benchmark, fleet mode: bulk account assignments by real Celery workers sharing Redis.

    DATABASE_URL=postgres://... .venv/bin/python bench/assignments.py --workers 2 \\
        [--accounts 1000] [--groups 10] [--hold 1.0] [--redis redis://127.0.0.1:6379/0]

The stack is production's: ``--workers`` processes of ``celery -A portal worker`` with
docker-compose.yml's command (threads pool, concurrency 8, queues celery and
identity-center), a PostgreSQL database of this run's own on the server of DATABASE_URL
(created, then dropped), Redis as the broker and for the fleet-wide limits, each under a key
prefix of this run's own (deleted at the end). One moto server in this process stands in for
AWS for every worker; it holds each account-assignment creation IN_PROGRESS for ``--hold``
seconds on its side and logs every request as it arrives (bench/ic_timing.py), so the
limits are measured where AWS would count them.

The portal's unit of work is one access group (one ``access_group_sync_task``): one group
cannot be shared by two workers. The accounts are split into ``--groups`` access groups of
equal size, created with their tasks held back; once the workers are ready, every group's
sync is sent at once and the clock runs until every group is in_sync (or failed).

The ceiling is the time AWS's sso-admin rate allows for the calls that cannot be avoided,
whoever makes them: per account one creation and one status check, per access group the
look-ups before creating (ListPermissionSets, ListAccountAssignmentsForPrincipal) and the
writes (CreatePermissionSet, AttachManagedPolicyToPermissionSet), at 20 calls per second
for the whole fleet.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.ic_timing import ServerLog

ROOT = Path(__file__).resolve().parent.parent

# sso-admin calls per access group that no provisioning can skip (see the docstring).
GROUP_MINIMUM = (
    "ListPermissionSets",
    "CreatePermissionSet",
    "AttachManagedPolicyToPermissionSet",
    "ListAccountAssignmentsForPrincipal",
)
POLL_SECONDS = 0.1


@contextmanager
def redis_prefix(url: str, what: str) -> Iterator[str]:
    """A key prefix of this run's own on ``url``; its keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    client.ping()
    prefix = f"bench-fleet-{what}-{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


@contextmanager
def moto_server(hold: float) -> Iterator[tuple[str, ServerLog]]:
    """A ThreadedMotoServer in this process, creations held ``hold`` s; (endpoint, log)."""
    from moto.server import ThreadedMotoServer

    from bench.ic_timing import moto_assignment_hold

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise

    with moto_assignment_hold(hold) as log:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}", log
        finally:
            server.stop()


def run_fleet(*, workers: int, accounts: int, groups: int, hold: float, redis_url: str) -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        print("Fleet mode needs DATABASE_URL=postgres://..., a server where it may add a database")
        return 2
    if groups < 1 or accounts < groups:
        print("--groups must be at least 1 and at most --accounts.")
        return 2
    sys.path.insert(0, str(ROOT))
    from bench.databases import fresh_database

    log_dir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    print(f"worker logs:               {log_dir} (deleted if the run ends in sync)")
    with ExitStack() as stack:
        db_url = stack.enter_context(fresh_database(database_url, "bench_fleet"))
        broker_prefix = stack.enter_context(redis_prefix(redis_url, "broker"))
        limits_prefix = stack.enter_context(redis_prefix(redis_url, "limits"))
        endpoint, server_log = stack.enter_context(moto_server(hold))
        env = {
            "DJANGO_SETTINGS_MODULE": "bench.fleet_settings",
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_BROKER_KEY_PREFIX": broker_prefix,
            "PROVISIONING_REDIS_URL": redis_url,
            "BENCH_LIMITS_PREFIX": limits_prefix,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "PORTAL_VAR_DIR": str(log_dir / "var"),
            "LOG_LEVEL": "WARNING",
        }
        (log_dir / "var").mkdir()
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(env)
        return _measure(
            stack, env, log_dir, server_log,
            workers=workers, accounts=accounts, groups=groups, hold=hold, redis_url=redis_url,
        )
    return 1  # not reached: the with block returns


def _measure(
    stack: ExitStack,
    env: dict[str, str],
    log_dir: Path,
    server_log: ServerLog,
    *,
    workers: int,
    accounts: int,
    groups: int,
    hold: float,
    redis_url: str,
) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from accessgroups.catalogue.services import access_group_create
    from accessgroups.models import (
        AccessGroup,
        AccessGroupAccount,
        Account,
        ProvisioningStatus,
        User,
    )
    from bench.ic_timing import max_in_window, max_overlap
    from provisioning import aws, tasks
    from tests.system.harness import Processes, compose_command, portal_env

    stack.callback(connections.close_all)  # before the database is dropped
    call_command("migrate", verbosity=0)
    instance = aws.instance()
    env["IDENTITY_CENTER_INSTANCE_ARN"] = instance.arn
    env["IDENTITY_STORE_ID"] = instance.identity_store_id

    # The groups are written with their syncs held back; they are sent once the fleet is up.
    send = tasks.access_group_sync_task.delay
    tasks.access_group_sync_task.delay = lambda *a, **k: None
    admin = User.objects.create(
        username="bench-admin", email="bench@example.com", is_portal_admin=True
    )
    Account.objects.bulk_create(
        [Account(account_id=f"{200000000000 + n:012d}", name=f"bench-{n}") for n in range(accounts)]
    )
    ids = list(Account.objects.order_by("account_id").values_list("account_id", flat=True))
    group_ids = []
    for n in range(groups):
        group = access_group_create(
            actor=admin,
            name=f"BenchFleet{n:03d}",
            description="Benchmark of bulk account assignments by a fleet",
            accounts=ids[n::groups],
            aws_managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            requestable=False,
        )
        group_ids.append(group.pk)
    tasks.access_group_sync_task.delay = send

    processes = Processes(log_dir)
    stack.callback(processes.stop_all)
    worker_env = portal_env(**env)
    fleet = [
        processes.start(f"worker-{n + 1}", compose_command("worker"), env=worker_env)
        for n in range(workers)
    ]
    for proc in fleet:
        processes.wait_for_log(proc, " ready.", timeout=120)

    server_log.clear()
    began = time.monotonic()
    for pk in group_ids:
        tasks.access_group_sync_task.delay(pk)
    unfinished = (ProvisioningStatus.PENDING, ProvisioningStatus.PROVISIONING)
    deadline = began + max(600.0, 10 * 2 * accounts / settings.SSO_ADMIN_TPS)
    while time.monotonic() < deadline:
        waiting = AccessGroup.objects.filter(pk__in=group_ids, provisioning_status__in=unfinished)
        if not waiting.exists():
            break
        if not all(proc.alive() for proc in fleet):
            print("A worker exited; see its log.")
            break
        time.sleep(POLL_SECONDS)
    elapsed = time.monotonic() - began
    calls = list(server_log.calls)
    creations = list(server_log.creations)
    for proc in fleet:
        processes.stop(proc)

    statuses = Counter(
        AccessGroup.objects.filter(pk__in=group_ids).values_list("provisioning_status", flat=True)
    )
    links = Counter(
        AccessGroupAccount.objects.filter(access_group_id__in=group_ids).values_list(
            "provisioning_status", flat=True
        )
    )
    errors = list(
        AccessGroup.objects.filter(pk__in=group_ids)
        .exclude(last_error="")
        .values_list("last_error", flat=True)
    )
    per_operation = Counter(op for _, _, op in calls)
    sso_calls = [t for t, service, _ in calls if service == "sso-admin"]
    minimum = 2 * accounts + len(GROUP_MINIMUM) * groups
    ceiling = minimum / settings.SSO_ADMIN_TPS
    taken = [
        sum(
            1 for line in proc.log().splitlines()
            if "access_group_sync_task[" in line and line.rstrip().endswith("received")
        )
        for proc in fleet
    ]

    print(f"accounts:                  {accounts} in {groups} access groups of {accounts // groups}"
          f"{'+' if accounts % groups else ''} (one sync task each; each assignment held "
          f"IN_PROGRESS {hold:g} s by the moto server)")
    print(f"workers:                   {workers} x celery -A portal worker --pool threads "
          f"--concurrency 8 -Q celery,identity-center")
    print(f"broker and limits:         redis {redis_url} (prefixes of this run's own)")
    print("database:                  PostgreSQL, a database of this run's own")
    print(f"machine:                   {os.cpu_count()} cores, load average "
          + " / ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"group status:              {dict(statuses)}")
    for error in errors[:3]:
        print(f"    {error[:300]}")
    print(f"account links:             {dict(links)}")
    print(f"groups taken per worker:   {' / '.join(map(str, taken))}")
    print(f"elapsed:                   {elapsed:.1f} s")
    print(f"ceiling:                   {ceiling:.1f} s ({minimum} sso-admin calls at "
          f"{settings.SSO_ADMIN_TPS} TPS: {accounts} creations + {accounts} status checks + "
          f"{len(GROUP_MINIMUM)} per group)")
    print(f"ratio ceiling/elapsed:     {ceiling / elapsed:.2f}")
    print(f"calls received by moto:    {len(calls)} (sso-admin {len(sso_calls)}, "
          f"identitystore {len(calls) - len(sso_calls)})")
    for operation, count in per_operation.most_common():
        print(f"    {operation:<42} {count}")
    print(f"max creations outstanding: {max_overlap(creations)} "
          f"(limit {settings.MAX_OUTSTANDING_ASSIGNMENT_CREATIONS}; from arrival to final status)")
    print(f"max sso-admin calls in 1 s: {max_in_window(sso_calls, 1.0)} "
          f"(limit {settings.SSO_ADMIN_TPS}; as they arrived at the server)")
    print(f"sso-admin calls per second: {len(sso_calls) / elapsed:.1f} on average")
    done = statuses == Counter({ProvisioningStatus.IN_SYNC: groups}) and links == Counter(
        {ProvisioningStatus.IN_SYNC: accounts}
    )
    if done:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        print(f"Not in sync; the worker logs are kept in {log_dir}")
    return 0 if done else 1
