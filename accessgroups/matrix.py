"""The access matrix: who (or which access group) reaches which account, as a grid.

It reads the rows of ``selectors.who_has_access``, so a cell means exactly what a row of
that report means: access confirmed in Identity Center (membership active and in sync,
account link current and in sync). The grid is paginated by its rows (people or access
groups); its columns are the accounts that the page's rows reach, so a page stays as wide
as what it shows rather than as wide as the organisation, and are paginated too (people in
many groups can reach hundreds of accounts).

One page costs a fixed number of queries whatever its size: the count of rows, the page's
row keys, the page's cells, and the labels of those rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, QuerySet

from accessgroups.models import AccessGroup, Account, User
from accessgroups.selectors import who_has_access


class MatrixRows(StrEnum):
    USERS = "users"
    ACCESS_GROUPS = "access_groups"


@dataclass(frozen=True)
class Column:
    account_id: str
    name: str


@dataclass
class MatrixRow:
    """One line of the grid: a user or an access group, and one cell per column."""

    label: str
    detail: str
    # For a user: the names of the access groups through which they reach each account.
    # For an access group: how many people reach each account through it.
    cells: list[Any] = field(default_factory=list)


@dataclass
class Matrix:
    rows_kind: MatrixRows
    columns: list[Column]
    rows: list[MatrixRow]
    page: Page
    # The page of the columns shown, among all the accounts this page's rows reach.
    column_page: Page


def _keys(rows_kind: MatrixRows, access: QuerySet) -> QuerySet:
    """Distinct row keys (user or access group ids) in the grid's order, as a sliceable query."""
    if rows_kind is MatrixRows.USERS:
        return (
            User.objects.filter(pk__in=access.values("user"))
            .order_by("username", "pk")
            .values_list("pk", flat=True)
        )
    return (
        AccessGroup.objects.filter(pk__in=access.values("access_group"))
        .order_by("name", "pk")
        .values_list("pk", flat=True)
    )


def access_matrix(
    *,
    rows_kind: MatrixRows = MatrixRows.USERS,
    page_number: Any = 1,
    per_page: int = 50,
    column_page_number: Any = 1,
    columns_per_page: int = 20,
    account: Account | None = None,
    access_group: AccessGroup | None = None,
    user: User | None = None,
) -> Matrix:
    """One page of the grid; the filters are those of ``who_has_access``."""
    # The selector's own query: ``link`` is its join of the account links that count.
    access = who_has_access(account=account, access_group=access_group, user=user).queryset
    page = Paginator(_keys(rows_kind, access), per_page).get_page(page_number)
    keys = list(page.object_list)

    if rows_kind is MatrixRows.USERS:
        cells = (
            access.filter(user__in=keys)
            .values(
                key=F("user_id"),
                cell_account_id=F("link__account__account_id"),
                cell_account_name=F("link__account__name"),
                group=F("access_group__name"),
            )
            .order_by()
        )
        labels = {
            u.pk: (u.username, u.effective_display_name)
            for u in User.objects.filter(pk__in=keys).only(
                "username", "display_name", "given_name", "family_name"
            )
        }
    else:
        # Several people reach an account through one group: one cell, counted in SQL.
        cells = (
            access.filter(access_group__in=keys)
            .values(
                key=F("access_group_id"),
                cell_account_id=F("link__account__account_id"),
                cell_account_name=F("link__account__name"),
            )
            .order_by()
            .annotate(people=Count("user", distinct=True))
        )
        labels = {
            g.pk: (g.name, g.description)
            for g in AccessGroup.objects.filter(pk__in=keys).only("name", "description")
        }

    found: dict[int, dict[str, Any]] = defaultdict(dict)
    columns: dict[str, Column] = {}
    for cell in cells:
        account_id = cell["cell_account_id"]
        columns.setdefault(account_id, Column(account_id, cell["cell_account_name"]))
        if rows_kind is MatrixRows.USERS:
            found[cell["key"]].setdefault(account_id, []).append(cell["group"])
        else:
            found[cell["key"]][account_id] = cell["people"]

    column_page = Paginator(
        sorted(columns.values(), key=lambda c: (c.name, c.account_id)), columns_per_page
    ).get_page(column_page_number)
    ordered = list(column_page.object_list)
    rows = []
    for key in keys:
        label, detail = labels[key]
        by_account = found.get(key, {})
        row_cells = [by_account.get(c.account_id) for c in ordered]
        if rows_kind is MatrixRows.USERS:
            row_cells = [sorted(groups) if groups else [] for groups in row_cells]
        rows.append(MatrixRow(label=label, detail=detail, cells=row_cells))
    return Matrix(
        rows_kind=rows_kind, columns=ordered, rows=rows, page=page, column_page=column_page
    )
