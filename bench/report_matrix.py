"""The access matrix part of bench/report_export.py: its pages read through the real view.

Imported by that script once Django is set up on the organisation it built.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from typing import Any

# A page read a few times: the median is steadier than one reading, and the page is cheap.
MATRIX_READINGS = 5


def matrix_cases(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """(what, query) of the matrix pages read: both row kinds, first and last pages, filters.
    A last page is reached as its Previous link would reach it: by the cursor of the row
    before it (rows' pages are found by key, so it should cost what the first does)."""
    from accessgroups.models import AccessGroup, Account, User
    from accessgroups.reports.matrix import MatrixRows, _memberships, _rows
    from accessgroups.reports.rows import AFTER, cursor_token
    from accessgroups.web.matrix import MATRIX_PAGE_SIZE

    # The organisation is regular: an account, a group and a user from the middle of it.
    account = Account.objects.get(account_id=f"{200000000000 + args.accounts // 2:012d}")
    group = AccessGroup.objects.get(name=f"group-{args.groups // 2:04d}")
    user = User.objects.get(username=f"user{args.users // 2:05d}")

    def last(kind: MatrixRows, **filters) -> dict[str, str]:
        """The cursor of the last page's rows (none if there is one page only)."""
        rows = _rows(kind, _memberships(access_group=None, user=None), filters.get("account"))
        total = rows.count()
        if total <= MATRIX_PAGE_SIZE:
            return {}
        before = rows[(total - 1) // MATRIX_PAGE_SIZE * MATRIX_PAGE_SIZE - 1]
        label = before.username if kind is MatrixRows.USERS else before.name
        return {"cursor": cursor_token(AFTER, (label, before.pk))}

    cases = [
        ("people, page 1", {}),
        ("people, last page", last(MatrixRows.USERS)),
        ("access groups, page 1", {"rows": "access_groups"}),
        ("access groups, last page", {"rows": "access_groups", **last(MatrixRows.ACCESS_GROUPS)}),
        ("people, account filter, page 1", {"account": account.account_id}),
        (
            "people, account filter, last page",
            {"account": account.account_id, **last(MatrixRows.USERS, account=account)},
        ),
        ("people, access group filter", {"access_group": str(group.pk)}),
        ("access groups, user filter", {"rows": "access_groups", "user": user.username}),
    ]
    # A small organisation has one page only: its last page is its first, read once.
    distinct = {}
    for what, query in cases:
        distinct.setdefault(tuple(sorted(query.items())), (what, query))
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
        columns = re.search(r"Accounts \d+–\d+ of (\d+)", page)
        shown_columns = page.count("data-account-id=")
        results.append(
            {
                "what": what,
                "elapsed": statistics.median(times),
                "queries": len(captured),
                "rows": page.count('class="matrix-row"'),
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
            f"{r['rows']:3} rows, {r['columns']} of {r['of_columns']} columns"
        )
