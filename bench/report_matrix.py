"""The access matrix part of bench/report_export.py: its pages read through the real view.

Imported by that script once Django is set up on the organisation it built.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import time
from typing import Any

# A page read a few times: the median is steadier than one reading, and the page is cheap.
MATRIX_READINGS = 5


def matrix_cases(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
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


def read_matrix(client, cases: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
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


def print_matrix(results: list[dict[str, Any]]) -> None:
    print(f"access matrix pages (median of {MATRIX_READINGS} readings, through the view):")
    width = max(len(str(r["what"])) for r in results)
    for r in results:
        print(
            f"  {r['what']:<{width}}  {r['elapsed'] * 1000:6.0f} ms  {r['queries']:2} queries  "
            f"{r['rows']:3} of {r['of_rows']:,} rows, {r['columns']} of {r['of_columns']} columns"
        )
