"""The access matrix: who (or which access group) reaches which account, as a grid.

A cell means exactly what rows of ``selectors.who_has_access`` mean: access Identity Center
grants (membership active and in sync, account link current and in sync), or may still grant
while the portal's removal of it is not confirmed. Both read it through the same conditions
(``membership_may_grant_now``, ``link_may_grant_now``) and take the same filters (an account is the link's, an access group and a user the
membership's). The grid has a query of its own, though: the report's carries what a grid
does not show (the approver looked up per membership, names and dates for its columns), and
makes a row per user, access group and account before a page can be picked.

The grid is paginated by its rows (people or access groups); its columns are the accounts
that the page's rows reach, so a page stays as wide as what it shows rather than as wide as
the organisation, and are paginated too (people in many groups can reach hundreds of
accounts).

The rows' pages are found by the key of a row (its label and id), as the who-has-access
report's are: a late page costs what the first does, and nothing counts every person with
access on each view (on 10,000 people that count cost the database more than the rest of
the page). One page costs a fixed number of queries whatever its size: the page's rows with
their labels, and the page's cells (for access groups, their accounts and their people,
counted once per group rather than once per account). Which rows have access at all is a
semi-join (the membership's group has at least one link), so finding a page's rows never
goes through a row per account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, OuterRef, QuerySet

from accessgroups.models import AccessGroup, AccessGroupAccount, Account, Membership, User
from accessgroups.reports.rows import keyset_rows
from accessgroups.reports.selectors import link_may_grant_now, membership_may_grant_now


class MatrixRows(StrEnum):
    USERS = "users"
    ACCESS_GROUPS = "access_groups"


@dataclass(frozen=True)
class Column:
    account_id: str
    name: str
    ou_path: str = ""


@dataclass
class MatrixRow:
    """One line of the grid: a user or an access group, and one cell per column."""

    label: str
    detail: str
    # For a user: the names of the access groups through which they reach each account.
    # For an access group: how many people reach each account through it.
    cells: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class RowPage:
    """Where the page's rows stand among all the rows: the keys (label, id) of its first and
    last rows, for the pages before and after it."""

    first_key: tuple | None
    last_key: tuple | None
    has_next: bool
    has_previous: bool


@dataclass
class Matrix:
    rows_kind: MatrixRows
    columns: list[Column]
    rows: list[MatrixRow]
    page: RowPage
    # The page of the columns shown, among all the accounts this page's rows reach.
    column_page: Page


def _memberships(*, access_group: AccessGroup | None, user: User | None) -> QuerySet:
    """Memberships that give access now, under the filters that bear on the membership."""
    memberships = Membership.objects.filter(membership_may_grant_now())
    if access_group is not None:
        memberships = memberships.filter(access_group=access_group)
    if user is not None:
        memberships = memberships.filter(user=user)
    return memberships


def _links(account: Account | None) -> QuerySet:
    """Account links that give access now, under the account filter."""
    links = AccessGroupAccount.objects.filter(link_may_grant_now())
    if account is not None:
        links = links.filter(account=account)
    return links


def _rows(rows_kind: MatrixRows, memberships: QuerySet, account: Account | None) -> QuerySet:
    """The grid's rows (users or access groups with access) in order, with their labels."""
    # A membership counts if its group has at least one such link: a semi-join, not a row
    # per account, so that finding a late page's rows stays cheap.
    reaching = memberships.filter(
        Exists(_links(account).filter(access_group=OuterRef("access_group")))
    )
    if rows_kind is MatrixRows.USERS:
        return (
            User.objects.filter(pk__in=reaching.values("user"))
            .order_by("username", "pk")
            .only("username", "display_name", "given_name", "family_name")
        )
    return (
        AccessGroup.objects.filter(pk__in=reaching.values("access_group"))
        .order_by("name", "pk")
        .only("name", "description")
    )


def _row_page(
    rows: QuerySet, fields: tuple[str, str], after: tuple | None, before: tuple | None, size: int
) -> tuple[list[Any], RowPage]:
    """The ``size`` rows after the key ``after`` (or before ``before``; the first if neither)."""
    shown, has_next, has_previous = keyset_rows(rows, fields, after=after, before=before, size=size)
    keys = [(getattr(row, fields[0]), row.pk) for row in shown]
    return shown, RowPage(
        first_key=keys[0] if keys else None,
        last_key=keys[-1] if keys else None,
        has_next=has_next,
        has_previous=has_previous,
    )


def access_matrix(
    *,
    rows_kind: MatrixRows = MatrixRows.USERS,
    after: tuple | None = None,
    before: tuple | None = None,
    per_page: int = 50,
    column_page_number: Any = 1,
    columns_per_page: int = 20,
    account: Account | None = None,
    access_group: AccessGroup | None = None,
    user: User | None = None,
) -> Matrix:
    """One page of the grid: the ``per_page`` rows after the row key ``after`` (or before
    ``before``), as (label, id); the filters are those of ``who_has_access``."""
    memberships = _memberships(access_group=access_group, user=user)
    fields = ("username", "pk") if rows_kind is MatrixRows.USERS else ("name", "pk")
    shown, page = _row_page(_rows(rows_kind, memberships, account), fields, after, before, per_page)
    keys = [row.pk for row in shown]

    columns: dict[str, Column] = {}
    found: dict[int, dict[str, Any]] = defaultdict(dict)
    if rows_kind is MatrixRows.USERS:
        # One filter() call: the links filtered are the links joined for the columns.
        cells = (
            memberships.filter(user__in=keys, access_group__account_links__in=_links(account))
            .values(
                key=F("user_id"),
                cell_account_id=F("access_group__account_links__account__account_id"),
                cell_account_name=F("access_group__account_links__account__name"),
                cell_ou_path=F("access_group__account_links__account__ou_path"),
                group=F("access_group__name"),
            )
            .order_by()
        )
        for cell in cells:
            account_id = cell["cell_account_id"]
            columns.setdefault(
                account_id, Column(account_id, cell["cell_account_name"], cell["cell_ou_path"])
            )
            found[cell["key"]].setdefault(account_id, []).append(cell["group"])
    else:
        # Every link of a group that the filters keep is a cell, reached by all the group's
        # members that the filters keep: count them once per group, not once per account.
        people = dict(
            memberships.filter(access_group__in=keys)
            .order_by()
            .values("access_group")
            .annotate(people=Count("user", distinct=True))
            .values_list("access_group", "people")
        )
        links = _links(account).filter(access_group__in=keys).order_by()
        for link in links.values(
            "access_group_id", "account__account_id", "account__name", "account__ou_path"
        ):
            account_id = link["account__account_id"]
            columns.setdefault(
                account_id,
                Column(account_id, link["account__name"], link["account__ou_path"]),
            )
            found[link["access_group_id"]][account_id] = people[link["access_group_id"]]

    column_page = Paginator(
        sorted(columns.values(), key=lambda c: (c.name, c.account_id)), columns_per_page
    ).get_page(column_page_number)
    ordered = list(column_page.object_list)
    rows = []
    for shown_row in shown:
        by_account = found.get(shown_row.pk, {})
        row_cells = [by_account.get(c.account_id) for c in ordered]
        if rows_kind is MatrixRows.USERS:
            row_cells = [sorted(groups) if groups else [] for groups in row_cells]
            label, detail = shown_row.username, shown_row.effective_display_name
        else:
            label, detail = shown_row.name, shown_row.description
        rows.append(MatrixRow(label=label, detail=detail, cells=row_cells))
    return Matrix(
        rows_kind=rows_kind, columns=ordered, rows=rows, page=page, column_page=column_page
    )
