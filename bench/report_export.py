"""Benchmark: the who-has-access CSV export and the access matrix of a large organisation.

    .venv/bin/python bench/report_export.py [--users 10000] [--groups 1000] [--accounts 500]
        [--accounts-per-group 10] [--groups-per-user 5] [--only csv|matrix]

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
from an admin grant. On PostgreSQL the tables are analysed after the build, as autovacuum
would do on a live database, so that the planner works from statistics.

The export is read twice: once timed, once under tracemalloc for the peak of Python memory
(tracemalloc slows Python down, so it would spoil the timing).

Then the access matrix page (``web:access-matrix``) is read through the real view: people and
access groups as rows, the first page and the last, and filtered by an account, an access
group and a user. Each page is read five times after a warm-up; it prints the median time,
the SQL queries and the rows and columns shown. ``--only`` runs one of the two parts.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import signal
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
import warnings
from pathlib import Path
from typing import Any

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


# A page read a few times: the median is steadier than one reading, and the page is cheap.
MATRIX_READINGS = 5


def _matrix_cases(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """(what, query) of the matrix pages read: both row kinds, first and last pages, filters."""
    from accessgroups.models import AccessGroup, Account, User
    from accessgroups.web.matrix import MATRIX_PAGE_SIZE

    # The organisation is regular: an account, a group and a user from the middle of it.
    account = Account.objects.get(account_id=f"{200000000000 + args.accounts // 2:012d}")
    group = AccessGroup.objects.get(name=f"group-{args.groups // 2:04d}")
    user = User.objects.get(username=f"user{args.users // 2:05d}")
    people_with_account = (
        User.objects.filter(memberships__access_group__account_links__account=account)
        .distinct()
        .count()
    )

    def last(rows: int) -> str:
        return str(max(1, math.ceil(rows / MATRIX_PAGE_SIZE)))

    cases = [
        ("people, page 1", {}),
        (f"people, page {last(args.users)} (last)", {"page": last(args.users)}),
        ("access groups, page 1", {"rows": "access_groups"}),
        (
            f"access groups, page {last(args.groups)} (last)",
            {"rows": "access_groups", "page": last(args.groups)},
        ),
        ("people, account filter, page 1", {"account": account.account_id}),
        (
            f"people, account filter, page {last(people_with_account)} (last)",
            {"account": account.account_id, "page": last(people_with_account)},
        ),
        ("people, access group filter", {"access_group": str(group.pk)}),
        ("access groups, user filter", {"rows": "access_groups", "user": user.username}),
    ]
    # A small organisation has one page only: its last page is its first, read once.
    distinct = {}
    for what, query in cases:
        key = tuple(sorted(item for item in query.items() if item != ("page", "1")))
        distinct.setdefault(key, (what, query))
    return list(distinct.values())


def _matrix(client, cases: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, teardown_test_environment
    from django.urls import reverse

    # The test environment makes every template rendering copy its context for the test
    # client (thousands on a matrix page, most of them the filter form's options); a page
    # as served does not, so it is measured without.
    teardown_test_environment()
    url = reverse("web:access-matrix")
    # The first page read compiles the templates and fills the database's caches.
    client.get(url)
    results = []
    for what, query in cases:
        times = []
        for _ in range(MATRIX_READINGS):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, query)
                times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"matrix {query} answered {response.status_code}")
        page = response.content.decode()
        rows = re.search(r"(\d+) (?:people|person|access groups?) with access", page)
        columns = re.search(r"Accounts \d+–\d+ of (\d+)", page)
        shown_columns = page.count("data-account-id=")
        results.append(
            {
                "what": what,
                "elapsed": statistics.median(times),
                "queries": len(captured),
                "rows": page.count('class="matrix-row"'),
                "of_rows": int(rows.group(1)) if rows else 0,
                "columns": shown_columns,
                "of_columns": int(columns.group(1)) if columns else shown_columns,
            }
        )
    return results


def _analyse() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _print_export(timed: dict[str, float], traced: dict[str, float], expected: int) -> None:
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


def _print_matrix(results: list[dict[str, Any]]) -> None:
    print(f"access matrix pages (median of {MATRIX_READINGS} readings, through the view):")
    width = max(len(str(r["what"])) for r in results)
    for r in results:
        print(
            f"  {r['what']:<{width}}  {r['elapsed'] * 1000:6.0f} ms  {r['queries']:2} queries  "
            f"{r['rows']:3} of {r['of_rows']:,} rows, {r['columns']} of {r['of_columns']} columns"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--accounts-per-group", type=int, default=10)
    parser.add_argument("--groups-per-user", type=int, default=5)
    parser.add_argument(
        "--only", choices=["csv", "matrix"], help="measure only the CSV export or the matrix"
    )
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
        timed = traced = None
        matrix = None
        try:
            started = time.perf_counter()
            expected = _build(args)
            _analyse()
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
            if args.only != "matrix":
                # A first, empty export loads the code a first request imports, so that the
                # memory figures are the export's own.
                warm_up = client.get(
                    "/api/v1/reports/who-has-access/",
                    {"format": "csv", "user": auditor.username},
                )
                b"".join(warm_up.streaming_content)
                timed = _export(client, trace=False)
                traced = _export(client, trace=True)
            if args.only != "csv":
                matrix = _matrix(client, _matrix_cases(args))
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    if timed is not None and traced is not None:
        _print_export(timed, traced, expected)
    if matrix is not None:
        _print_matrix(matrix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
