"""Benchmark: the who-has-access CSV export of a large organisation, through the real view.

    .venv/bin/python bench/report_export.py [--users 10000] [--groups 1000] [--accounts 500]
        [--accounts-per-group 10] [--groups-per-user 5]

Builds the organisation with bulk_create in a throwaway database (PostgreSQL when
DATABASE_URL is set: a database of this run's own on that server, dropped at the end; else a
temporary SQLite file), then downloads ``/api/v1/reports/who-has-access/?format=csv`` as an
auditor with Django's test client, reading the streamed response chunk by chunk. It prints
the rows, rows per second, time to first byte, peak memory and the number of SQL queries; it
asserts nothing.

The defaults give 10,000 users each in 5 of 1,000 access groups, each group granting 10 of
500 accounts: 50,000 memberships x 10 accounts = 500,000 report rows. Every membership is
active and in sync and every account link current and in sync, so every row is listed. Half
of the memberships come from an approved request (the report looks up its approver), half
from an admin grant.

The export is read twice: once timed, once under tracemalloc for the peak of Python memory
(tracemalloc slows Python down, so it would spoil the timing).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import tempfile
import time
import tracemalloc
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _environment(var_dir: str) -> None:
    # Before Django reads its settings.
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["PORTAL_VAR_DIR"] = var_dir
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["REQUIRE_MFA_FOR_APPROVERS"] = "0"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    # WhiteNoise warns that the throwaway directory has no collected static files; the
    # export serves none.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)


def _build(args: argparse.Namespace) -> int:
    """The organisation, in bulk. Returns the number of report rows it should give."""
    from django.utils import timezone

    from accessgroups.models import (
        AccessGroup,
        AccessGroupAccount,
        AccessRequest,
        Account,
        Decision,
        DecisionOutcome,
        Membership,
        MembershipSource,
        ProvisioningStatus,
        RequestStatus,
        User,
    )

    now = timezone.now()
    in_sync = ProvisioningStatus.IN_SYNC
    # 5,000 rows per INSERT keeps each statement under SQLite's and psycopg's parameter limits.
    batch = 5000
    approver = User.objects.create(username="bench-approver", email="approver@bench.example")
    users = User.objects.bulk_create(
        (
            User(
                username=f"user{n:05d}",
                email=f"user{n:05d}@bench.example",
                given_name="User",
                family_name=f"{n:05d}",
                password="!",
                provisioning_status=in_sync,
            )
            for n in range(args.users)
        ),
        batch_size=batch,
    )
    accounts = Account.objects.bulk_create(
        (
            Account(account_id=f"{200000000000 + n:012d}", name=f"account-{n:03d}")
            for n in range(args.accounts)
        ),
        batch_size=batch,
    )
    groups = AccessGroup.objects.bulk_create(
        (
            AccessGroup(name=f"group-{n:04d}", provisioning_status=in_sync)
            for n in range(args.groups)
        ),
        batch_size=batch,
    )
    AccessGroupAccount.objects.bulk_create(
        (
            AccessGroupAccount(
                access_group=group,
                account=accounts[(g * args.accounts_per_group + k) % args.accounts],
                provisioning_status=in_sync,
            )
            for g, group in enumerate(groups)
            for k in range(args.accounts_per_group)
        ),
        batch_size=batch,
    )
    memberships = Membership.objects.bulk_create(
        (
            Membership(
                user=user,
                access_group=groups[(u * args.groups_per_user + j) % args.groups],
                source=MembershipSource.REQUEST if (u + j) % 2 else MembershipSource.ADMIN,
                justification="benchmark",
                granted_at=now,
                granted_by=approver,
                activated_at=now,
                provisioning_status=in_sync,
            )
            for u, user in enumerate(users)
            for j in range(args.groups_per_user)
        ),
        batch_size=batch,
    )
    from_requests = [m for m in memberships if m.source == MembershipSource.REQUEST]
    requests = AccessRequest.objects.bulk_create(
        (
            AccessRequest(
                requester_id=m.user_id,
                access_group_id=m.access_group_id,
                justification="benchmark",
                status=RequestStatus.ACTIVE,
                membership=m,
            )
            for m in from_requests
        ),
        batch_size=batch,
    )
    Decision.objects.bulk_create(
        (
            Decision(
                request=r,
                requester_id=r.requester_id,
                decided_by=approver,
                outcome=DecisionOutcome.APPROVE,
            )
            for r in requests
        ),
        batch_size=batch,
    )
    return len(memberships) * args.accounts_per_group


def _status_kib(field: str) -> int | None:
    """A field of /proc/self/status in KiB (Linux), or None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    # Writing 5 to clear_refs resets VmHWM (Linux 4.0+), so the peak measured is the
    # export's own and not the build's.
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _export(client, *, trace: bool) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
    rss_before = _status_kib("VmRSS")
    peak_reset = _reset_peak_rss()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    first_byte = None
    first_row = None
    lines = 0
    size = 0
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/reports/who-has-access/", {"format": "csv"})
        if response.status_code != 200 or not response.streaming:
            raise SystemExit(f"export answered {response.status_code}: {response.content[:500]!r}")
        for chunk in response.streaming_content:
            if first_byte is None:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
            # The header may be sent before the query runs; the first row needs the query.
            if first_row is None and lines >= 2:
                first_row = time.perf_counter() - started
            size += len(chunk)
        response.close()
    elapsed = time.perf_counter() - started
    figures = {
        "rows": lines - 1,  # the header line
        "bytes": size,
        "elapsed": elapsed,
        "first_byte": first_byte or elapsed,
        "first_row": first_row or elapsed,
        "queries": len(captured),
    }
    peak = _status_kib("VmHWM")
    if peak_reset and peak is not None and rss_before is not None:
        figures["rss_growth_mib"] = (peak - rss_before) / 1024
        figures["rss_peak_mib"] = peak / 1024
    else:
        # ru_maxrss (KiB on Linux) only grows past the build's peak, so this underestimates.
        figures["rss_growth_mib"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before
        ) / 1024
        figures["rss_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        figures["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--accounts-per-group", type=int, default=10)
    parser.add_argument("--groups-per-user", type=int, default=5)
    args = parser.parse_args()
    if args.groups_per_user > args.groups or args.accounts_per_group > args.accounts:
        parser.error("a user's groups and a group's accounts must be distinct")

    # A terminated run still drops its database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench-report-") as var_dir:
        _environment(var_dir)
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection
        from django.test import Client
        from django.test.utils import setup_test_environment

        from accessgroups.models import User

        setup_test_environment()
        # A database of this run's own, whatever else uses the server (a test run's test_
        # database included); SQLite gets a file in the temporary directory.
        test_settings = settings.DATABASES["default"].setdefault("TEST", {})
        if connection.vendor == "sqlite":
            test_settings["NAME"] = str(Path(var_dir) / "bench.sqlite3")
        else:
            test_settings["NAME"] = f"bench_report_export_{uuid.uuid4().hex[:8]}"
        old_name = settings.DATABASES["default"]["NAME"]
        print(f"database: {connection.vendor}, building the organisation...", flush=True)
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            started = time.perf_counter()
            expected = _build(args)
            print(
                f"built {args.users:,} users, {args.groups:,} access groups, "
                f"{args.accounts:,} accounts, {expected:,} expected rows "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            auditor = User.objects.create(
                username="bench-auditor", email="auditor@bench.example", is_auditor=True
            )
            client = Client()
            client.force_login(auditor)
            # A first, empty export loads the code a first request imports, so that the
            # memory figures are the export's own.
            warm_up = client.get(
                "/api/v1/reports/who-has-access/", {"format": "csv", "user": auditor.username}
            )
            b"".join(warm_up.streaming_content)
            timed = _export(client, trace=False)
            traced = _export(client, trace=True)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    print(f"rows:                {timed['rows']:,} (expected {expected:,})")
    print(f"CSV size:            {timed['bytes'] / 2**20:.1f} MiB")
    print(f"elapsed:             {timed['elapsed']:.2f} s")
    print(f"rows per second:     {timed['rows'] / timed['elapsed']:,.0f}")
    print(f"time to first byte:  {timed['first_byte'] * 1000:.0f} ms")
    print(f"time to first row:   {timed['first_row'] * 1000:.0f} ms")
    print(f"SQL queries:         {timed['queries']}")
    print(f"peak Python memory:  {traced['peak_mib']:.1f} MiB (tracemalloc, during the export)")
    print(
        f"peak RSS:            {timed['rss_peak_mib']:.1f} MiB, "
        f"{timed['rss_growth_mib']:+.1f} MiB over the RSS before the timed export"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
