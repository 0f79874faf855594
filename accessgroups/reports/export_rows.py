"""Who has access as files: the report's rows as text, read at the database's speed.

The pages and the API's JSON read ``selectors.who_has_access`` a page at a time. A file reads
every row, and what costs little for 50 rows shows at 500,000 (README, "Performance"):

- the approver is joined once per membership (the latest approval of each membership, an
  anti-join), not looked up by a subquery once per output row;
- the database formats the values: times as ISO 8601 UTC text, exactly as the API's JSON
  writes them, and, for spreadsheets, cells that a spreadsheet would run as a formula
  neutralised (``exports.neutralise``), only in the columns that hold text people typed or
  named; Python receives tuples of text and None and only writes them out;
- on PostgreSQL the rows come from a server-side cursor inside a transaction, so the first
  rows leave before the last are read and memory stays flat (outside a transaction Django
  declares the cursor WITH HOLD, which makes PostgreSQL build the whole result first).

The rows, filters and order are those of ``selectors.who_has_access``: both start from
``selectors.report_rows``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL

from accessgroups.models import AccessGroup, Account, User
from accessgroups.reports.exports import FORMULA_STARTS
from accessgroups.reports.selectors import (
    WHO_HAS_ACCESS_COLUMNS,
    approvals,
    report_columns,
    report_rows,
)

# Rows per fetch from the server-side cursor: 2,000 rows of ~140 bytes is ~280 KB a round
# trip; larger fetches measured no faster and hold more memory.
FETCH_ROWS = 2000
# Batches fetched ahead of the one being written (at most ~1 MB held).
READ_AHEAD_BATCHES = 4
# The first fetch is small, so that the first rows leave as soon as the database has them.
FIRST_FETCH_ROWS = 200

# Columns whose text comes from people or from AWS (names, addresses, justifications,
# errors): the ones a spreadsheet could be made to run. Account ids, sources, states and
# times are the portal's own and never start with a formula character.
TEXT_COLUMNS = frozenset(
    {
        "username",
        "email",
        "access_group",
        "permission_set",
        "account_name",
        "approved_by",
        "justification",
        "last_error",
        "account_ou_path",
    }
)
TIME_COLUMNS = frozenset({"granted_at", "expires_at", "ended_at"})

# The report's columns as selected below (``w`` the rows, ``a`` the membership's approver).
_SOURCES = {
    "username": "w.username",
    "email": "w.email",
    "access_group": "w.access_group_name",
    "permission_set": "w.permission_set",
    "account_id": "w.account_id",
    "account_name": "w.account_name",
    "source": "w.membership_source",
    "granted_at": "w.membership_granted_at",
    "expires_at": "w.membership_expires_at",
    "approved_by": "COALESCE(a.approver, w.granter)",
    "justification": "w.membership_justification",
    "state": "w.state",
    "ended_at": "w.state_ended_at",
    "last_error": "w.state_last_error",
    "account_ou_path": "w.account_ou_path",
}


def _time_text(expression: str) -> str:
    """SQL for a time as Python's ``isoformat()`` in UTC with ``Z``, as DRF writes it (no
    fraction when there are no microseconds); NULL stays NULL."""
    if connection.vendor == "postgresql":
        # The cast types a bare NULL (the reports of a past moment have no ``ended_at``).
        expression = f"CAST({expression} AS timestamptz)"
        return (
            f"to_char({expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
            f"CASE WHEN to_char({expression}, 'US') = '000000' THEN '' "
            f"ELSE to_char({expression}, '.US') END || 'Z'"
        )
    # SQLite stores a time as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]" (str() of the value).
    return f"REPLACE({expression}, ' ', 'T') || 'Z'"


def _neutralised(expression: str, params: list[Any]) -> str:
    """SQL for ``exports.neutralise``: a leading quote on text a spreadsheet would run."""
    params.extend(FORMULA_STARTS)
    params.append("'")
    starts = ", ".join(["%s"] * len(FORMULA_STARTS))
    return (
        f"CASE WHEN SUBSTR({expression}, 1, 1) IN ({starts}) "
        f"THEN %s || {expression} ELSE {expression} END"
    )


def _latest_approver(at: datetime | None) -> tuple[str, list[Any]]:
    """SQL for the approver of the membership ``w.membership_id``: its latest approval's."""
    latest = (
        approvals(at=at)
        .filter(request__membership=RawSQL("w.membership_id", ()))
        .order_by("-created_at", "-id")
        .values(approver=F("decided_by__username"))[:1]
    )
    sql, params = latest.query.sql_with_params()
    return sql, list(params)


def export_sql(
    *,
    for_spreadsheet: bool,
    account: Account | None = None,
    access_group: AccessGroup | None = None,
    user: User | None = None,
    expiring_before: datetime | None = None,
    at: datetime | None = None,
) -> tuple[str, list[Any]]:
    """The report as one SQL statement of text columns in WHO_HAS_ACCESS_COLUMNS order.

    ``for_spreadsheet`` neutralises formula-like text (CSV); JSON Lines and XLSX (which
    neutralises as it writes cells) take the values as stored.
    """
    rows = report_rows(
        account=account,
        access_group=access_group,
        user=user,
        expiring_before=expiring_before,
        at=at,
    ).values(
        **report_columns(), granter=F("granted_by__username"), membership_id=F("pk")
    )
    rows_sql, rows_params = rows.order_by().query.sql_with_params()
    approver_sql, approver_params = _latest_approver(at)
    params: list[Any] = []
    columns = []
    postgresql = connection.vendor == "postgresql"
    for column in WHO_HAS_ACCESS_COLUMNS:
        expression = _SOURCES[column]
        if column == "approved_by" and not postgresql:
            expression = "COALESCE(w.approver, w.granter)"
        if column in TIME_COLUMNS:
            expression = _time_text(expression)
        elif for_spreadsheet and column in TEXT_COLUMNS:
            expression = _neutralised(expression, params)
        columns.append(f"{expression} AS {connection.ops.quote_name(column)}")
    if postgresql:
        # A lateral join PostgreSQL memoizes by membership: rows arrive a membership's
        # accounts at a time, so the approver is looked up once per membership.
        source = f"({rows_sql}) w LEFT JOIN LATERAL ({approver_sql}) a ON true"
        source_params = [*rows_params, *approver_params]
    else:
        # SQLite has no lateral join: a subquery per row (SQLite is for small portals).
        source = f"(SELECT w.*, ({approver_sql}) AS approver FROM ({rows_sql}) w) w"
        source_params = [*approver_params, *rows_params]
    sql = (
        f"SELECT {', '.join(columns)} FROM {source} "
        # The order of selectors.who_has_access.
        "ORDER BY w.username, w.access_group_name, w.account_id, w.membership_id"
    )
    return sql, [*params, *source_params]


def who_has_access_batches(*, for_spreadsheet: bool, **filters: Any) -> Iterator[list[tuple]]:
    """The report's rows, text or None in WHO_HAS_ACCESS_COLUMNS order, in batches.

    A generator: nothing is read before the first batch is asked for, and on PostgreSQL the
    transaction it opens lasts until the last batch (or until it is closed).
    """
    sql, params = export_sql(for_spreadsheet=for_spreadsheet, **filters)
    if connection.vendor != "postgresql":
        # SQLite has no server-side cursor; its cursor already steps through the result.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            yield from _batches(cursor)
        return
    # Inside a transaction Django's chunked cursor is declared without HOLD: PostgreSQL
    # sends rows as it makes them instead of building the whole result first.
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The plan's cost (a sort of every row) is above jit_above_cost, and compiling
            # it took longer (0.3-0.4 s) than it saves on a query this simple.
            cursor.execute("SET LOCAL jit = off")
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            yield from _read_ahead(cursor.cursor)


def _batches(cursor: Any) -> Iterator[list[tuple]]:
    size = FIRST_FETCH_ROWS
    while batch := cursor.fetchmany(size):
        yield batch
        size = FETCH_ROWS


def _read_ahead(cursor: Any) -> Iterator[list[tuple]]:
    """The batches of ``cursor`` (psycopg's own), fetched by a thread a few batches ahead.

    Each FETCH is a round trip during which the database works and Python waits, then
    Python formats while the database waits; reading ahead overlaps the two. The thread
    only fetches (psycopg's connection is thread-safe); this generator closes it.
    """
    ahead: queue.Queue = queue.Queue(maxsize=READ_AHEAD_BATCHES)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        """Queue ``item`` unless the reader has stopped; whether it was queued."""
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in _batches(cursor):
                if not offer(batch):
                    return
            offer([])
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            offer(exc)

    reader = threading.Thread(target=read, name="who-has-access-read-ahead", daemon=True)
    reader.start()
    try:
        while (batch := ahead.get()) != []:
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        stop.set()
        reader.join()
