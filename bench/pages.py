"""Per page, what one web worker and PostgreSQL spend on it, one request at a time.

    DATABASE_URL=postgres://... .venv/bin/python bench/pages.py [--each 40] [--rounds 5]

bench/load.py measures the portal under people clicking: the figures of two runs of the
same code differ by a tenth or more, because everything shares two cores. This measures
the same pages quietly, to compare two versions of the code: it builds bench/load_org.py's
organisation the same way (a database of the run's own on the PostgreSQL server of
DATABASE_URL, dropped at the end), starts docker-compose.yml's web command with one worker
(production settings, Redis under a key prefix of the run's own), signs in a requester, an
approver and an auditor through the form, and asks each page of bench/locustfile.py's
personas ``--each`` times in a row, nothing else running, ``--rounds`` times (after one
round not measured).

It prints, per page: the CPU the worker and the database's backends spent per request
(from /proc: the clock moves in 10 ms steps, so a round is ``--each`` requests, and the
median of the rounds is given) and the bytes of the answer; then the mean over the pages,
weighted as the personas ask them. It asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import _children, _cpu_seconds, admin_connection, served_organisation  # noqa: E402

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NEXT_PAGE = re.compile(r'<a href="([^"]+)" rel="next">')
ACCOUNT = "200000000007"

# (name, persona, URL, requests of it per 100 the personas send at 200 people, from a
# bench/load.py run: the catalogue 19, its search 6, ...).
PAGES = [
    ("/", "requester", "/", 19),
    ("/?q=", "requester", "/?q=group-07", 6),
    ("/access-groups/[id]/request/", "requester", None, 6),
    ("/my/access/", "requester", "/my/access/", 11),
    ("/my/requests/", "requester", "/my/requests/", 18),
    ("/approvals/", "approver", "/approvals/", 15),
    ("/reports/", "auditor", "/reports/", 3),
    ("/reports/?account=", "auditor", f"/reports/?account={ACCOUNT}", 2),
    ("/reports/?cursor=", "auditor", None, 3),
    ("/reports/matrix/", "auditor", "/reports/matrix/", 2),
    ("/reports/audit-log/", "auditor", "/reports/audit-log/", 1),
    (
        "who-has-access CSV of an account",
        "auditor",
        f"/api/v1/reports/who-has-access/?format=csv&account={ACCOUNT}",
        1,
    ),
]
PEOPLE = {"requester": "user05000", "approver": "user00001", "auditor": "auditor01"}


def _backends_cpu(cursor, database: str) -> float:
    cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])
    return sum(_cpu_seconds(pid) or 0.0 for (pid,) in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--each", type=int, default=40, help="requests of a page per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        parser.error("DATABASE_URL must name a PostgreSQL server (as docker-compose.yml runs it)")

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as var_dir:
        shape = {"users": 10_000, "groups": 1_000, "accounts": 500}
        with served_organisation("pages", var_dir, args.redis, shape, workers=1) as served:
            import requests

            from bench.load_org import PASSWORD

            worker = _children(served.server.pid)[0]
            print(f"one worker: {worker}", flush=True)
            with admin_connection() as pg:
                run(args, served.base, worker, pg.cursor(), served.database, PASSWORD, requests)
    return 0


def run(args, base: str, worker: int, cursor, database: str, password: str, requests) -> None:
    sessions = {}
    for n, (persona, username) in enumerate(PEOPLE.items()):
        session = requests.Session()
        session.headers["X-Forwarded-For"] = f"10.0.0.{n + 1}"
        form = session.get(f"{base}/accounts/login/")
        answer = session.post(
            f"{base}/accounts/login/",
            data={
                "login": username,
                "password": password,
                "csrfmiddlewaretoken": CSRF.search(form.text).group(1),
            },
            allow_redirects=False,
        )
        if answer.status_code != 302:
            raise SystemExit(f"{username} could not sign in: {answer.status_code}")
        sessions[persona] = session
    # The request form of a group the requester may ask for; the report's second page.
    catalogue = sessions["requester"].get(f"{base}/").text
    form_url = re.search(r'href="(/access-groups/\d+/request/)"', catalogue).group(1)
    later = NEXT_PAGE.search(sessions["auditor"].get(f"{base}/reports/").text)
    urls = {
        "/access-groups/[id]/request/": form_url,
        "/reports/?cursor=": later.group(1).replace("&amp;", "&"),
    }

    print(f"{'page':<36} {'web CPU':>9} {'PostgreSQL':>11} {'bytes':>9}")
    weighted = [0.0, 0.0]
    weights = 0
    for name, persona, url, weight in PAGES:
        session, url = sessions[persona], f"{base}{url or urls[name]}"
        answer = session.get(url)
        if answer.status_code != 200:
            raise SystemExit(f"{name} answered {answer.status_code}")
        web, postgres = [], []
        for round_ in range(args.rounds + 1):
            started = (_cpu_seconds(worker), _backends_cpu(cursor, database))
            for _ in range(args.each):
                session.get(url)
            ended = (_cpu_seconds(worker), _backends_cpu(cursor, database))
            if round_:  # the first round is not measured
                web.append((ended[0] - started[0]) / args.each)
                postgres.append((ended[1] - started[1]) / args.each)
        web_ms, postgres_ms = statistics.median(web) * 1000, statistics.median(postgres) * 1000
        weighted[0] += web_ms * weight
        weighted[1] += postgres_ms * weight
        weights += weight
        print(
            f"{name:<36} {web_ms:>6.1f} ms {postgres_ms:>8.1f} ms {len(answer.content):>9,}",
            flush=True,
        )
    print(
        f"{'the pages, weighted as people ask them':<36} {weighted[0] / weights:>6.1f} ms "
        f"{weighted[1] / weights:>8.1f} ms (not counted: sign-ins, POSTs, a machine shared)"
    )


if __name__ == "__main__":
    sys.exit(main())
