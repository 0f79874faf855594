"""Benchmark: one access group assigned to many accounts, brought to in_sync.

    .venv/bin/python bench/assignments.py [--accounts 500] [--hold 1.0] [--redis URL]
    DATABASE_URL=postgres://... .venv/bin/python bench/assignments.py --workers 2 \\
        --accounts 1000 [--groups 10] [--redis redis://127.0.0.1:6379/0]

With ``--workers N`` it runs on a fleet of N real Celery workers instead (bench/fleet.py).

Runs the real provisioning task (``access_group_sync_task``) against moto in-process, with a
throwaway SQLite database, and holds each account assignment IN_PROGRESS for ``--hold``
seconds as AWS would. The limits come from the portal's settings (20 sso-admin calls per
second, 15 creations outstanding); with ``--redis`` they live in Redis under a key prefix of
this run's own, else in-process.

The ceiling is what AWS's rate allows for the work that cannot be avoided: one creation and
one status check per account at 20 calls per second (500 accounts: 50 s). The ratio
ceiling/elapsed says how close the pipeline comes to it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _environment(var_dir: str, redis_url: str) -> None:
    # Before Django reads its settings: a private var/ (SQLite, broker folder), moto's
    # fake credentials, and no endpoint so that moto in-process answers.
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["PORTAL_VAR_DIR"] = var_dir
    os.environ["DEBUG"] = "1"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("IDENTITY_CENTER_INSTANCE_ARN", None)
    os.environ.pop("IDENTITY_STORE_ID", None)
    os.environ["PROVISIONING_REDIS_URL"] = redis_url
    os.environ["LOG_LEVEL"] = "WARNING"
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument(
        "--hold", type=float, default=1.0, help="seconds each assignment stays IN_PROGRESS"
    )
    parser.add_argument(
        "--redis", default="", help="Redis URL for the limits (default: in-process)"
    )
    parser.add_argument(
        "--workers", type=int, default=0,
        help="real Celery worker processes (bench/fleet.py; needs DATABASE_URL and Redis); "
        "0: the task in this process",
    )
    parser.add_argument(
        "--groups", type=int, default=10, help="access groups sharing the accounts (fleet mode)"
    )
    args = parser.parse_args()

    if args.workers:
        sys.path.insert(0, str(ROOT))
        from bench.fleet import run_fleet

        return run_fleet(
            workers=args.workers, accounts=args.accounts, groups=args.groups, hold=args.hold,
            redis_url=args.redis or "redis://127.0.0.1:6379/0",
        )
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as var_dir:
        _environment(var_dir, args.redis)
        return run(accounts=args.accounts, hold=args.hold, redis_url=args.redis)


def run(*, accounts: int, hold: float, redis_url: str) -> int:
    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from moto import mock_aws

    from accessgroups.catalogue.services import access_group_create
    from accessgroups.models import AccessGroup, Account, ProvisioningStatus, User
    from bench.ic_timing import CallLog, SlowIdentityCenter, max_in_window, max_overlap
    from provisioning import aws, tasks

    prefix = f"bench:{uuid.uuid4().hex}:"
    settings.PROVISIONING_LIMITS_PREFIX = prefix
    call_command("migrate", verbosity=0)

    # The workflow enqueues the sync on commit; the benchmark runs it itself, timed.
    tasks.access_group_sync_task.delay = lambda *a, **k: None

    admin = User.objects.create(
        username="bench-admin", email="bench@example.com", is_portal_admin=True
    )
    Account.objects.bulk_create(
        [Account(account_id=f"{200000000000 + n:012d}", name=f"bench-{n}") for n in range(accounts)]
    )
    group = access_group_create(
        actor=admin,
        name="BenchReadOnly",
        description="Benchmark of bulk account assignments",
        accounts=[a.account_id for a in Account.objects.all()],
        aws_managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        requestable=False,
    )

    with mock_aws():
        aws.reset()
        slow = SlowIdentityCenter(assignment_seconds=hold)
        log = CallLog()
        for name, handler in slow.handlers() + log.handlers():
            aws.register_event(name, handler)
        aws.instance()  # discovery is not part of the measured work
        log.calls.clear()

        began = time.monotonic()
        tasks.access_group_sync_task.apply(args=[group.pk])
        elapsed = time.monotonic() - began
        aws.reset()

    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)

    group = AccessGroup.objects.get(pk=group.pk)
    links = Counter(group.account_links.values_list("provisioning_status", flat=True))
    per_operation = Counter(op for _, _, op in log.calls)
    sso_calls = log.stamps("sso-admin")
    ceiling = 2 * accounts / settings.SSO_ADMIN_TPS

    print(f"accounts:                  {accounts} (each held IN_PROGRESS {hold:g} s)")
    print(f"limiter backend:           {'redis ' + redis_url if redis_url else 'in-process'}")
    print(
        f"group status:              {group.provisioning_status}"
        + (f" ({group.last_error})" if group.last_error else "")
    )
    print(f"account links:             {dict(links)}")
    print(f"elapsed:                   {elapsed:.1f} s")
    print(
        f"ceiling:                   {ceiling:.1f} s ({accounts} creations + {accounts} status "
        f"checks at {settings.SSO_ADMIN_TPS} TPS)"
    )
    print(f"ratio ceiling/elapsed:     {ceiling / elapsed:.2f}")
    print(
        f"total calls:               {len(log.calls)} (sso-admin {len(sso_calls)}, "
        f"identitystore {len(log.stamps('identitystore'))})"
    )
    for operation, count in per_operation.most_common():
        print(f"    {operation:<42} {count}")
    print(
        f"max creations outstanding: {max_overlap(log.creations)} "
        f"(limit {settings.MAX_OUTSTANDING_ASSIGNMENT_CREATIONS})"
    )
    print(
        f"max sso-admin calls in 1 s: {max_in_window(sso_calls, 1.0)} "
        f"(limit {settings.SSO_ADMIN_TPS})"
    )
    in_sync = group.provisioning_status == ProvisioningStatus.IN_SYNC
    return 0 if in_sync and links == Counter({ProvisioningStatus.IN_SYNC: accounts}) else 1


if __name__ == "__main__":
    sys.exit(main())
