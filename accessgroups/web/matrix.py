"""The access matrix page: people (or access groups) against accounts, for auditors and admins.

The grid comes from ``accessgroups.reports.matrix``, which reads current access as the who-has-access
selector does; the filters are the who-has-access page's own form, so both pages read a
filter the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from accessgroups.reports.matrix import MatrixRows, access_matrix
from accessgroups.reports.rows import AFTER, BEFORE, cursor_token
from accessgroups.web.auditor import (
    WhoHasAccessFilters,
    cursor_position,
    page_url,
    require_auditor,
)

MATRIX_PAGE_SIZE = 50
# Twenty account columns still fit a laptop screen with the names readable.
MATRIX_COLUMNS_PER_PAGE = 20


class MatrixFilters(WhoHasAccessFilters):
    rows = forms.ChoiceField(
        label="Rows",
        required=False,
        choices=[
            (MatrixRows.USERS.value, "People"),
            (MatrixRows.ACCESS_GROUPS.value, "Access groups"),
        ],
    )

    def rows_kind(self) -> MatrixRows:
        return MatrixRows(self.cleaned_data.get("rows") or MatrixRows.USERS)


def _rows_url(request: HttpRequest, direction: str | None = None, key: tuple | None = None) -> str:
    """This page's URL for the rows ``direction`` of ``key`` (the first rows if none), with
    the same filters, from the first page of accounts."""
    if direction is None:
        return page_url(request, drop=("cpage",))
    return page_url(request, drop=("cpage",), cursor=cursor_token(direction, key))


_NO_ACCESS = '<td><span class="muted">no access</span></td>'
_REACHED = '<td><span aria-hidden="true">✓ </span>'


def cells_html(rows_kind: MatrixRows, cells: Sequence[Any]) -> SafeString:
    """A row's cells as one string: for people, the names of the access groups that grant
    the account; for access groups, how many people reach it. A page has up to 1,000 cells,
    which cost most of its time written by the template one by one."""
    parts = []
    for cell in cells:
        if not cell:
            parts.append(_NO_ACCESS)
        elif rows_kind is MatrixRows.USERS:
            parts.append(f"{_REACHED}{escape(', '.join(cell))}</td>")
        else:
            parts.append(f"{_REACHED}{cell} {'person' if cell == 1 else 'people'}</td>")
    return mark_safe("".join(parts))


@require_GET
@login_required
def access_matrix_page(request: HttpRequest) -> HttpResponse:
    require_auditor(request.user)
    # Rows' pages are found by a row's key (a ``cursor``), as on /reports/: a numbered link
    # from before (``?page=3``) starts again at the first page.
    if request.GET.get("page") not in (None, "", "1"):
        return redirect(_rows_url(request))
    form = MatrixFilters(request.GET)
    matrix: Any = None
    if form.is_valid():
        matrix = access_matrix(
            rows_kind=form.rows_kind(),
            **cursor_position(request.GET.get("cursor"), texts=1),
            per_page=MATRIX_PAGE_SIZE,
            column_page_number=request.GET.get("cpage"),
            columns_per_page=MATRIX_COLUMNS_PER_PAGE,
            **form.selector_filters(),
        )
        for row in matrix.rows:
            row.cells_html = cells_html(matrix.rows_kind, row.cells)
    page = matrix.page if matrix is not None else None
    next_url = _rows_url(request, AFTER, page.last_key) if page and page.has_next else None
    previous_url = (
        _rows_url(request, BEFORE, page.first_key) if page and page.has_previous else None
    )
    # A filter that names nothing known shows no grid, rather than everything.
    return render(
        request,
        "accessgroups/reports/matrix.html",
        {
            "form": form,
            "matrix": matrix,
            "next_url": next_url,
            "previous_url": previous_url,
        },
        status=200 if form.is_valid() else 400,
    )
