"""The who-has-access JSON part of bench/report_export.py: its pages read through the API.

Imported by that script once Django is set up on the organisation it built. Reads the first
page, a page after 250,000 rows (half the default organisation) by cursor and by page number
(an OFFSET), and filtered first pages, each a few times after a warm-up, through the real
view with an auditor's session; then the report's count, as the pages make it (two aggregates
by access group) and as a count of the join. Prints the median times and the SQL queries.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

# A page read a few times: the median is steadier than one reading.
API_READINGS = 5
URL = "/api/v1/reports/who-has-access/"


def api_cases(expected: int) -> list[tuple[str, dict[str, str]]]:
    """(what, query) of the pages read: first, deep by cursor and by number, filtered."""
    from accessgroups.api.report_pagination import ReportCursorPagination
    from accessgroups.models import Account, User
    from accessgroups.reports.rows import AFTER, cursor_token
    from accessgroups.reports.selectors import who_has_access

    size = ReportCursorPagination.page_size
    deep = max(size, (expected // 2) // size * size)  # a page boundary: 250,000 by default
    # The key of the row before the deep page, found once the slow way (OFFSET).
    key = who_has_access().offset_page(offset=deep - 1, size=1).last_key
    account = Account.objects.order_by("account_id")[Account.objects.count() // 2]
    user = User.objects.filter(memberships__isnull=False).order_by("username").first()
    return [
        ("page 1", {}),
        (f"after {deep:,} rows, by cursor", {"cursor": cursor_token(AFTER, key)}),
        (f"after {deep:,} rows, ?page={deep // size + 1} (OFFSET)", {"page": str(deep // size + 1)}),
        ("account filter, page 1", {"account": account.account_id}),
        ("user filter, page 1", {"user": user.username}),
    ]


def _median(call) -> float:
    times = []
    for _ in range(API_READINGS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def read_api(client, cases: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accessgroups.reports.selectors import who_has_access

    client.get(URL, {"format": "json"})  # the first request imports and fills the caches
    results = []
    for what, query in cases:
        query = {"format": "json", **query}
        with CaptureQueriesContext(connection) as captured:
            response = client.get(URL, query)
        if response.status_code != 200:
            raise SystemExit(f"who-has-access {query} answered {response.status_code}")
        body = response.json()
        # Counted now: the next request empties the log the capture reads.
        queries = len(captured)
        results.append(
            {
                "what": what,
                "elapsed": _median(lambda query=query: client.get(URL, query)),
                "queries": queries,
                "rows": len(body["results"]),
                "count": body["count"],
            }
        )
    rows = who_has_access()
    for what, count in (
        ("count: two aggregates by group", lambda: who_has_access().count()),
        ("count: COUNT(*) of the join", rows.queryset.count),
    ):
        results.append(
            {"what": what, "elapsed": _median(count), "queries": 0, "rows": 0, "count": count()}
        )
    return results


def print_api(results: list[dict[str, Any]]) -> None:
    print(f"who has access, JSON pages (median of {API_READINGS} readings, through the view):")
    width = max(len(str(r["what"])) for r in results)
    for r in results:
        shown = f"{r['queries']:2} queries  {r['rows']:2} rows of " if "count:" not in r["what"] else ""
        print(f"  {r['what']:<{width}}  {r['elapsed'] * 1000:7.1f} ms  {shown}{r['count']:,}")
