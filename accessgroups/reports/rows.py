"""Rows of a report read a page at a time: by a row's key (keyset) or by position (OFFSET),
and the opaque cursors that carry a key from one page to the next.

A cursor is the key of a page's first or last row and the way to go from it ("after" or
"before"), signed with the project's secret (django.core.signing): a client cannot make one
up, so a cursor that does not verify, or verifies and does not hold a key, is refused. The
/reports/ page and the API's who-has-access list use the same cursors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet

AFTER = "after"
BEFORE = "before"

# Signatures of cursors are theirs alone: no other signed value of the project reads as one.
CURSOR_SALT = "accessgroups.reports.rows.cursor"


class BadCursor(ValueError):
    """A cursor this portal did not make, or one that holds no key."""


def cursor_token(direction: str, key: tuple) -> str:
    """The opaque, signed cursor of the rows ``direction`` (AFTER or BEFORE) of ``key``."""
    return signing.dumps([direction, list(key)], salt=CURSOR_SALT, compress=False)


def read_cursor(token: str, *, texts: int = 3) -> tuple[str, tuple]:
    """(direction, key) from a cursor made by cursor_token; BadCursor if it is not one. A
    key is ``texts`` strings and an id: the report's row (username, access group, account),
    the access matrix's row (its label: ``texts=1``)."""
    try:
        found = signing.loads(token, salt=CURSOR_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise BadCursor(token) from None
    # Signed by us, but perhaps by another version of the report: its shape is checked too.
    valid = (
        isinstance(found, list)
        and len(found) == 2
        and found[0] in (AFTER, BEFORE)
        and isinstance(found[1], list)
        and len(found[1]) == texts + 1
        and all(isinstance(v, str) and "\x00" not in v for v in found[1][:texts])
        and isinstance(found[1][texts], int)
        and not isinstance(found[1][texts], bool)
    )
    if not valid:
        raise BadCursor(token)
    return found[0], tuple(found[1])


@dataclass
class KeysetPage:
    """A page of report rows and the keys of its first and last rows (for Previous/Next)."""

    # As Django's Page names them.
    object_list: list[dict[str, Any]]
    first_key: tuple | None
    last_key: tuple | None
    has_next: bool
    has_previous: bool


def _after(fields: tuple[str, ...], key: tuple, *, descending: bool = False) -> Q:
    """Rows whose ``fields`` come after ``key`` in their order (before, if ``descending``).

    Spelled out as (a > x) or (a = x and b > y) or ..., which both databases read; the
    first term alone (a >= x) lets an index on ``a`` narrow the scan.
    """
    op = "lt" if descending else "gt"
    first = Q(**{f"{fields[0]}__{'lte' if descending else 'gte'}": key[0]})
    alternatives = Q()
    for n, field in enumerate(fields):
        equal = {f: v for f, v in zip(fields[:n], key[:n], strict=True)}
        alternatives |= Q(**equal, **{f"{field}__{op}": key[n]})
    return first & alternatives


def keyset_rows(
    queryset: QuerySet,
    fields: tuple[str, ...],
    *,
    after: tuple | None = None,
    before: tuple | None = None,
    size: int = 50,
    descending: bool = False,
) -> tuple[list, bool, bool]:
    """The ``size`` rows of ``queryset`` (ordered by ``fields``, which are unique together;
    by each of them descending if ``descending``) after the key ``after`` (or before
    ``before``; the first rows if neither), in order, and whether there are rows after them
    and before them."""
    if before is not None:
        queryset = queryset.filter(_after(fields, before, descending=not descending)).order_by(
            *(f if descending else f"-{f}" for f in fields)
        )
    elif after is not None:
        queryset = queryset.filter(_after(fields, after, descending=descending))
    found = list(queryset[: size + 1])
    more = len(found) > size
    found = found[:size]
    if before is not None:
        found.reverse()
    # Coming back from a later page, there is one; going back, there is one if more rows
    # were found before.
    has_next = (more if before is None else True) and bool(found)
    has_previous = (after is not None if before is None else more) and bool(found)
    return found, has_next, has_previous


class Rows:
    """Rows of a values() queryset under the report's own column names.

    Several columns share a name with a model field (``source``, ``granted_at``...), which
    a values() query cannot use as aliases; the query selects them under other names and
    this view of it renames them. It counts and slices in SQL, so a paginator can use it,
    and iterating it streams with a server-side cursor where the database has one.

    ``counter``, if given, counts the rows without reading them (the report's count is a
    sum over groups, not a count of the joined rows); the count is kept once made.
    """

    ordered = True  # the queryset is ordered; tells Django's Paginator not to warn

    def __init__(
        self,
        queryset: QuerySet,
        renames: dict[str, str],
        columns: tuple[str, ...],
        key_names: tuple[str, ...] = (),
        counter: Callable[[], int] | None = None,
    ):
        self.queryset = queryset
        self.renames = renames
        self.columns = columns
        # The names among the values of the order's fields, a unique key: for keyset pages.
        self.key_names = key_names
        self.counter = counter
        self._count: int | None = None

    def _row(self, raw: dict[str, Any]) -> dict[str, Any]:
        return {column: raw[self.renames.get(column, column)] for column in self.columns}

    def count(self) -> int:
        if self._count is None:
            self._count = self.counter() if self.counter else self.queryset.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[dict[str, Any]]:
        if not isinstance(key, slice):
            raise TypeError("Rows are read by slices.")
        return [self._row(raw) for raw in self.queryset[key]]

    def _rows_and_keys(self, raws: list[dict[str, Any]]) -> tuple[list, list]:
        return (
            [self._row(raw) for raw in raws],
            [tuple(raw[k] for k in self.key_names) for raw in raws],
        )

    def keyset_page(
        self, *, after: tuple | None = None, before: tuple | None = None, size: int = 50
    ) -> KeysetPage:
        """The ``size`` rows after the row whose key is ``after`` (or before ``before``; the
        first rows if neither): a late page costs what the first does, where an OFFSET
        makes the database build and skip every row before it."""
        # The keys by their names among the values: a lookup through ``link`` in a new
        # filter() would join the account links a second time.
        raws, has_next, has_previous = keyset_rows(
            self.queryset, self.key_names, after=after, before=before, size=size
        )
        rows, keys = self._rows_and_keys(raws)
        return KeysetPage(
            object_list=rows,
            first_key=keys[0] if keys else None,
            last_key=keys[-1] if keys else None,
            has_next=has_next,
            has_previous=has_previous,
        )

    def offset_page(self, *, offset: int, size: int = 50) -> KeysetPage:
        """The ``size`` rows from position ``offset`` (an OFFSET: the database builds and
        skips every row before it), with their keys, so that the pages after it and before
        it can be found by key."""
        raws = list(self.queryset[offset : offset + size + 1])
        more = len(raws) > size
        rows, keys = self._rows_and_keys(raws[:size])
        return KeysetPage(
            object_list=rows,
            first_key=keys[0] if keys else None,
            last_key=keys[-1] if keys else None,
            has_next=more,
            has_previous=offset > 0 and bool(rows),
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        # Rows are ten short columns: 2,000 per fetch keeps round trips few and memory bounded.
        for raw in self.queryset.iterator(chunk_size=2000):
            yield self._row(raw)
