"""Benchmark: the who-has-access files and the access matrix of a large organisation.

    .venv/bin/python bench/report_export.py [--users 10000] [--groups 1000] [--accounts 500]
        [--accounts-per-group 10] [--groups-per-user 5] [--only csv|matrix|api ...]

Builds the organisation with bulk_create in a throwaway database (PostgreSQL when
DATABASE_URL is set: a database of this run's own on that server, dropped at the end; else a
temporary SQLite file), then serves the portal on it with gunicorn (one worker) and
downloads ``/api/v1/reports/who-has-access/`` as CSV, JSON Lines and XLSX over HTTP with an
auditor's API token, reading each response 64 KB at a time as it arrives. On PostgreSQL it
also runs ``COPY (the CSV export's own SQL) TO STDOUT CSV``: the database's own speed for
the same rows. It prints, for each, the rows, rows per second, time to the first row, the
worker's RSS before and at its peak (Linux; the peak is reset before each file), and for
CSV and JSON Lines their rate over COPY's. It asserts nothing.

The defaults give 10,000 users each in 5 of 1,000 access groups, each group granting 10 of
500 accounts: 50,000 memberships x 10 accounts = 500,000 report rows. Every membership is
active and in sync and every account link current and in sync, so every row is listed. Half
of the memberships come from an approved request (the report looks up its approver), half
from an admin grant. On PostgreSQL the tables are analysed after the build, as autovacuum
would do on a live database, so that the planner works from statistics.

Then the access matrix page (``web:access-matrix``) is read through the real view: people and
access groups as rows, the first page and the last, and filtered by an account, an access
group and a user. Each page is read five times after a warm-up; it prints the median time,
the SQL queries and the rows and columns shown.

Then the JSON pages of ``/api/v1/reports/who-has-access/`` (bench/report_api.py): the first
page, a page half way through by cursor and by page number, filtered pages, and the count.

``--only`` runs the parts named (``csv``: the files; ``matrix``; ``api``: the JSON pages),
and may be given more than once; without it, all three run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _environment(var_dir: str) -> None:
    # Before Django reads its settings.
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["PORTAL_VAR_DIR"] = var_dir
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # Plain http: the test client and the bench server have no TLS in front of them.
    os.environ["SECURE_SSL_REDIRECT"] = "0"
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


@contextlib.contextmanager
def _server(database_url: str, var_dir: str) -> Iterator[tuple[str, int]]:
    """gunicorn serving the portal on the bench's database: (base URL, worker pid).

    One worker, one thread: the export is measured as one request of a real server, over
    a socket, with the worker's own memory."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORTAL_VAR_DIR": var_dir,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        # The throwaway directory has no collected static files; the export serves none.
        "PYTHONWARNINGS": "ignore::UserWarning",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
                    answer.read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        worker = int(children.read_text().split()[0]) if children.exists() else server.pid
        yield f"http://127.0.0.1:{port}", worker
    finally:
        server.terminate()
        server.wait(timeout=30)


def _proc_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _download(base: str, key: str, fmt: str, worker: int) -> dict[str, float]:
    """One file of who has access over HTTP, read 64 KB at a time as it arrives."""
    try:
        Path(f"/proc/{worker}/clear_refs").write_text("5")  # reset the worker's peak RSS
    except OSError:
        pass
    rss_before = _proc_kib(worker, "VmRSS")
    request = urllib.request.Request(
        f"{base}/api/v1/reports/who-has-access/?format={fmt}",
        headers={"Authorization": f"Token {key}"},
    )
    started = time.perf_counter()
    first_row = None
    lines = size = 0
    # The header line of CSV; JSON Lines has none.
    header_lines = 1 if fmt == "csv" else 0
    with urllib.request.urlopen(request) as answer:
        while chunk := answer.read1(65536):
            lines += chunk.count(b"\n")
            size += len(chunk)
            if first_row is None and lines > header_lines:
                first_row = time.perf_counter() - started
    elapsed = time.perf_counter() - started
    peak = _proc_kib(worker, "VmHWM")
    return {
        "rows": lines - header_lines,
        "bytes": size,
        "elapsed": elapsed,
        "first_row": first_row or elapsed,
        "rss_before_mib": (rss_before or 0) / 1024,
        "rss_peak_mib": (peak or 0) / 1024,
    }


def _copy() -> dict[str, float]:
    """``COPY (the CSV export's own SQL) TO STDOUT CSV``, read by psycopg as it arrives."""
    import psycopg
    from django.db import connection, transaction

    from accessgroups.reports.export_rows import export_sql

    sql, params = export_sql(for_spreadsheet=True)
    started = time.perf_counter()
    first_row = None
    lines = size = 0
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        statement = psycopg.ClientCursor(raw).mogrify(sql, params)
        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # as the export does
            with cursor.copy(f"COPY ({statement}) TO STDOUT (FORMAT csv)") as copy:
                for block in copy:
                    lines += bytes(block).count(b"\n")
                    size += len(block)
                    if first_row is None and lines:
                        first_row = time.perf_counter() - started
    elapsed = time.perf_counter() - started
    return {"rows": lines, "bytes": size, "elapsed": elapsed, "first_row": first_row or elapsed}


def _analyse() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _print_export(files: dict[str, dict[str, float]], copy: dict[str, float] | None, expected: int) -> None:
    print(f"who has access over HTTP (gunicorn, one worker), {expected:,} rows expected:")
    reference = copy["rows"] / copy["elapsed"] if copy else None
    for what, f in files.items():
        rate = f["rows"] / f["elapsed"]
        line = (
            f"  {what:<6} {f['rows']:>9,} rows  {f['bytes'] / 2**20:6.1f} MiB  "
            f"{f['elapsed']:6.2f} s  {rate:>9,.0f} rows/s  first row {f['first_row'] * 1000:5.0f} ms"
        )
        if "rss_peak_mib" in f:
            line += f"  worker RSS {f['rss_before_mib']:.0f} -> peak {f['rss_peak_mib']:.0f} MiB"
        if reference and what in ("csv", "jsonl"):
            line += f"  {rate / reference:.2f} x COPY"
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--accounts-per-group", type=int, default=10)
    parser.add_argument("--groups-per-user", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=["csv", "matrix", "api"],
        action="append",
        help="measure only this part (the files, the matrix, the JSON pages); repeatable",
    )
    args = parser.parse_args()
    parts = set(args.only or ("csv", "matrix", "api"))
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
        files: dict[str, dict[str, float]] = {}
        copy = None
        matrix = None
        api = None
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
            if "csv" in parts:
                from accessgroups.auth.tokens import api_token_create

                key = api_token_create(actor=None, user=auditor, name="bench").key
                database = settings.DATABASES["default"]
                if connection.vendor == "sqlite":
                    url = f"sqlite:///{database['NAME']}"
                else:
                    url = (
                        f"postgres://{database['USER']}:{database['PASSWORD']}@"
                        f"{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
                    )
                with _server(url, var_dir) as (base, worker):
                    # A first, small export loads the code a first request imports.
                    _download(base, key, "csv&user=bench-auditor", worker)
                    for fmt in ("csv", "jsonl", "xlsx"):
                        files[fmt] = _download(base, key, fmt, worker)
                    if connection.vendor == "postgresql":
                        copy = _copy()
                if "xlsx" in files:
                    # The workbook is not parsed to count its rows: it holds the CSV's.
                    files["xlsx"]["rows"] = files["csv"]["rows"]
            if "api" in parts:
                from bench.report_api import api_cases, read_api

                api = read_api(client, api_cases(expected))
            if "matrix" in parts:
                from bench.report_matrix import matrix_cases, read_matrix

                matrix = read_matrix(client, matrix_cases(args))
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    if files:
        _print_export(files, copy, expected)
    if api is not None:
        from bench.report_api import print_api

        print_api(api)
    if matrix is not None:
        from bench.report_matrix import print_matrix

        print_matrix(matrix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
