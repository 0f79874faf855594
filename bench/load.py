"""Load test: the portal under people clicking, as docker-compose.yml runs it.

    DATABASE_URL=postgres://... .venv/bin/python bench/load.py [--levels 50,200]
        [--measure 120] [--settle 20] [--spawn-rate 4] [--users 10000] [--groups 1000]
        [--accounts 500]

Builds bench/load_org.py's organisation in bulk (10,000 users, 1,000 access groups, 500
accounts, 500,000 who-has-access rows, 5,000 pending requests, 200,000 audit events) in a
database of the run's own on the PostgreSQL server of DATABASE_URL (dropped at the end),
analyses it, and starts the web service with docker-compose.yml's own command (gunicorn, 3
workers) in production settings: DEBUG off, persistent connections (DATABASE_CONN_MAX_AGE
60), Redis (``--redis``, a key prefix of the run's own, removed at the end) as broker, cache
and sign-in limits, four-eyes changes on. Nothing consumes the broker: approvals queue their
provisioning there, as they would while the workers are busy.

Then, for each number of people in ``--levels``, it runs bench/locustfile.py's personas with
Locust (headless, in a process of its own on the same machine): they sign in, browse,
request, approve and reject, read the reports and export; 1 to 3 s between clicks. People
arrive at ``--spawn-rate`` a second; the figures are those of the ``--measure`` seconds that
begin ``--settle`` seconds after the last one arrived (Locust's statistics are reset then:
until then the arrivals' first sign-ins, PBKDF2 on purpose, and what queued behind them
are still being served; one line says what those seconds looked like), after ``--warmup``
seconds of 10 people that are not reported (the workers' first requests load code and
templates). It prints, per page and in all: requests, requests per second, the 50th, 95th
and 99th percentiles of the response time, failures; and the CPU time the web workers
(Python) and the PostgreSQL backends of the run's database spent per request in that
window, read from /proc every half second. It asserts nothing. The same machine runs
Locust, PostgreSQL and Redis: the load is not free.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def _server_env(database_url: str, redis_url: str, prefix: str, var_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_BROKER_KEY_PREFIX": prefix,
        "PORTAL_VAR_DIR": var_dir,
        "ALLOWED_HOSTS": "127.0.0.1",
        "CHANGE_APPROVAL": "required",
        # Plain http on loopback: no TLS in front, so cookies without the Secure flag.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        # The personas sign in with a password and no second factor.
        "REQUIRE_MFA_FOR_APPROVERS": "0",
        # Behind one proxy: every person has an address of their own (X-Forwarded-For).
        "TRUSTED_PROXY_COUNT": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore::UserWarning",
    }


def _web_command(port: int) -> list[str]:
    """docker-compose.yml's web command, from this virtualenv, on 127.0.0.1:port."""
    import yaml

    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = list(spec["services"]["web"]["command"])
    command[0] = str(BIN / command[0])
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    return command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_http(url: str, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url) as answer:
                answer.read()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the web service did not answer {url}") from None
            time.sleep(0.3)


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class CpuMeter(threading.Thread):
    """CPU time of the web service's processes and of the PostgreSQL backends serving the
    run's database, read every half second. A process that ends keeps its last reading, so
    connections that close (DATABASE_CONN_MAX_AGE) are counted too."""

    def __init__(self, server_pid: int, database: str) -> None:
        super().__init__(daemon=True)
        self.server_pid = server_pid
        self.database = database
        self.latest: dict[tuple[str, int], float] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def _backends(self, cursor) -> list[int]:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.database],
        )
        return [row[0] for row in cursor.fetchall()]

    def run(self) -> None:
        pg = admin_connection()
        with pg, pg.cursor() as cursor:
            while not self.stopping.is_set():
                self.read(cursor)
                self.stopping.wait(0.5)

    def read(self, cursor) -> None:
        processes = [("web", self.server_pid)] + [("web", p) for p in _children(self.server_pid)]
        processes += [("postgres", p) for p in self._backends(cursor)]
        with self.lock:
            for key in processes:
                seconds = _cpu_seconds(key[1])
                if seconds is not None:
                    self.latest[key] = seconds

    def totals(self) -> dict[str, float]:
        with self.lock:
            found: dict[str, float] = {"web": 0.0, "postgres": 0.0}
            for (kind, _), seconds in self.latest.items():
                found[kind] += seconds
            return found


def _locust(
    base: str,
    people: int,
    spawn_rate: float,
    measure: int,
    out: Path,
    meter: CpuMeter,
    shape: dict[str, int],
    first_requester: int,
    settle: int = 0,
):
    """Runs the personas; returns the CPU totals when the measured seconds began (``settle``
    seconds after the last person arrived) and at the end, and Locust's line on the seconds
    before."""
    ramp = people / spawn_rate
    command = [
        str(BIN / "locust"),
        "-f", str(ROOT / "bench" / "locustfile.py"),
        "--headless", "--host", base,
        "--users", str(people), "--spawn-rate", str(spawn_rate),
        "--run-time", f"{int(ramp + settle + measure)}s",
        "--csv", str(out / f"people{people}"),
        "--only-summary", "--loglevel", "INFO",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update({f"LOAD_{kind.upper()}": str(n) for kind, n in shape.items()})
    env["LOAD_FIRST_REQUESTER"] = str(first_requester)
    env["LOAD_SETTLE"] = str(settle)
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    from bench.load_org import MEASURING

    at_start = None
    arrivals = ""
    log = []
    for line in process.stderr:
        log.append(line)
        if "arrivals: " in line:
            arrivals = line.split("arrivals: ", 1)[1].strip()
        if at_start is None and MEASURING in line:
            at_start = (time.monotonic(), meter.totals())
    process.wait()
    at_end = (time.monotonic(), meter.totals())
    if process.returncode not in (0, 1):  # 1: some requests failed; the figures say which
        sys.stderr.write("".join(log[-30:]))
        raise SystemExit(f"locust exited with {process.returncode}")
    return at_start, at_end, arrivals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="50,200", help="people at once, comma-separated")
    parser.add_argument("--measure", type=int, default=90, help="seconds measured per level")
    parser.add_argument("--spawn-rate", type=float, default=4.0, help="people arriving a second")
    parser.add_argument(
        "--settle",
        type=int,
        default=20,
        help="seconds after the last arrival before measuring: first sign-ins still queue",
    )
    parser.add_argument(
        "--warmup", type=int, default=30, help="seconds of 10 people first, not reported"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--accounts", type=int, default=500)
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        parser.error("DATABASE_URL must name a PostgreSQL server (as docker-compose.yml runs it)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench-load-") as var_dir:
        shape = {"users": args.users, "groups": args.groups, "accounts": args.accounts}
        with served_organisation("load", var_dir, args.redis, shape) as served:
            from bench.load_report import activity, print_level

            server, database, base, log_path = served
            meter = CpuMeter(server.pid, database)
            meter.start()
            out = Path(var_dir)
            # Every level's people are new ones: none has asked for anything in the run yet.
            first_requester = 0
            if args.warmup:
                # The workers' first requests load code and templates; no one measures those.
                _locust(base, 10, 10, args.warmup, out, meter, shape, first_requester)
                first_requester += 10
            for people in levels:
                before = activity()
                start, end, arrivals = _locust(
                    base,
                    people,
                    args.spawn_rate,
                    args.measure,
                    out,
                    meter,
                    shape,
                    first_requester,
                    settle=args.settle,
                )
                first_requester += people
                print_level(
                    people=people,
                    stats=out / f"people{people}_stats.csv",
                    failures=out / f"people{people}_failures.csv",
                    settle=args.settle,
                    arrivals=arrivals,
                    start=start,
                    end=end,
                    done=activity(before),
                    web_log=log_path,
                )
            meter.stopping.set()
    return 0


class Served(NamedTuple):
    server: subprocess.Popen
    database: str
    base: str
    log_path: Path


@contextmanager
def served_organisation(
    label: str, var_dir: str, redis_url: str, shape: dict[str, int], *, workers: int | None = None
) -> Iterator[Served]:
    """bench/load_org.py's organisation, built in a PostgreSQL database of the run's own on
    DATABASE_URL's server and analysed, served by docker-compose.yml's web command
    (``workers`` instead of its number if given) in production settings, Redis under a key
    prefix of the run's own. At the end the server is stopped, the database dropped and
    the run's Redis keys deleted."""
    # Before Django reads its settings (the server has an environment of its own).
    sys.path.insert(0, str(ROOT))
    from bench.report_export import _environment

    _environment(var_dir)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from bench.load_org import build, organisation_args

    database = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = database
    old_name = settings.DATABASES["default"]["NAME"]
    prefix = f"bench-{label}-{uuid.uuid4().hex[:8]}:"
    print(f"building the organisation in database {database}...", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    server = None
    try:
        started = time.perf_counter()
        made = build(organisation_args(**shape))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"built in {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{count:,} {kind}" for kind, count in made.items()),
            flush=True,
        )
        db = settings.DATABASES["default"]
        host = f"{db['HOST']}:{db['PORT'] or 5432}"
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}/{database}"
        port = _free_port()
        command = _web_command(port)
        if workers is not None:
            command[command.index("--workers") + 1] = str(workers)
        log_path = Path(var_dir) / "web.log"
        with log_path.open("w") as log:
            server = subprocess.Popen(
                command,
                cwd=ROOT,
                env=_server_env(url, redis_url, prefix, var_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/healthz", server)
        print(f"web: {' '.join(command[1:])}", flush=True)
        yield Served(server, database, base, log_path)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        _forget_redis(redis_url, prefix)


def admin_connection():
    """A psycopg connection to the server's ``postgres`` database, as the portal's settings
    reach the server (autocommit): for reading pg_stat_activity."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True)


def _forget_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    # The broker's keys and the cache's (``prefix:version:key``) start with the prefix.
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    sys.exit(main())
