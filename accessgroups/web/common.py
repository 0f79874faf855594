"""What the pages share: paging and query parameters."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from html import escape

from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Window
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from accessgroups.core import compiled, limits

PAGE_SIZE = 20


# The name the page's rows carry their total under (paginate(..., count_with_rows=True)).
_TOTAL = "_paginate_total"


def paginate(
    request: HttpRequest, items, *, per_page: int = PAGE_SIZE, count_with_rows: bool = False
) -> Page:
    """One page of ``items``; a page number out of range or not a number gives the nearest page.

    ``count_with_rows``: for a queryset of the few rows a person's own list holds (their
    requests, their access, their queue, the groups they may ask for), the total comes with
    the page's rows (``COUNT(*) OVER ()``), one query where the paginator makes two. Not for
    long lists: the database then reads every row whole before it takes a page. A number
    past the last page, or one that is not a page number, is answered as without it.
    """
    paginator = Paginator(items, per_page)
    number = request.GET.get("page")
    if count_with_rows and isinstance(items, QuerySet) and _countable(items):
        wanted = _page_number(number)
        if wanted is not None:
            start = (wanted - 1) * per_page
            rows = list(items.annotate(**{_TOTAL: Window(Count("*"))})[start : start + per_page])
            if rows or wanted == 1:
                paginator.count = getattr(rows[0], _TOTAL) if rows else 0
                return Page(rows, wanted, paginator)
    return paginator.get_page(number)


# The pages of a person's own list whose SQL is built once per process (paginate_compiled):
# nearly every view is of the first; a later page is built as any other query.
COMPILED_PAGES = 3


def paginate_compiled(
    request: HttpRequest,
    key: Hashable,
    build: Callable[..., QuerySet],
    values: Sequence[int | str],
    *,
    per_page: int = PAGE_SIZE,
) -> Page:
    """``paginate(request, build(*values), per_page=per_page, count_with_rows=True)``, with
    the SQL of the first ``COMPILED_PAGES`` built once per process under ``key``
    (``accessgroups.core.compiled``: ``build`` gives a query of model instances whose shape
    does not depend on ``values``; what changes its shape goes into ``key``). Building the
    SQL of a person's list cost more than the database spends on it."""
    wanted = _page_number(request.GET.get("page"))
    if wanted is not None and wanted <= COMPILED_PAGES:
        start = (wanted - 1) * per_page

        def page_of(*given: int | str) -> QuerySet:
            items = build(*given)
            if not _countable(items):
                raise TypeError(f"the list {key!r} is not counted with its rows")
            return items.annotate(**{_TOTAL: Window(Count("*"))})[start : start + per_page]

        rows = compiled.instances(("page", key, start, per_page), page_of, values)
        if rows or wanted == 1:
            paginator = Paginator(rows, per_page)
            paginator.count = getattr(rows[0], _TOTAL) if rows else 0
            return Page(rows, wanted, paginator)
    return paginate(request, build(*values), per_page=per_page, count_with_rows=True)


def _countable(items: QuerySet) -> bool:
    # DISTINCT is applied after the window: the total would count the duplicates.
    query = items.query
    return not (query.distinct or query.combinator or query.is_sliced or query.group_by)


# Pages past this go the paginator's way (which counts first): an offset of 30 digits is more
# than SQLite or PostgreSQL take, and no person's own list is that long.
_FURTHEST_PAGE = 100_000


def _page_number(number: str | None) -> int | None:
    """A page number as the paginator reads one, if it is a page (1 to _FURTHEST_PAGE)."""
    if number is None:
        return 1
    try:
        wanted = int(number)
    except (TypeError, ValueError):
        return None
    return wanted if 1 <= wanted <= _FURTHEST_PAGE else None


def model_fields(model, prefix: str = "") -> list[str]:
    """Every field of ``model`` by name, for ``only()``: ``prefix`` reaches it through a
    relation (``"membership__"``)."""
    return [f"{prefix}{field.name}" for field in model._meta.concrete_fields]


def options_html(options: Iterable[tuple[str, str]], selected: str | None = None) -> SafeString:
    """``<option>`` elements of (value, label) pairs as one string, ``selected`` marked.

    For lists of hundreds (the accounts of a filter): one escape per value, where a
    template or ``format_html_join`` spends many times that on each option.
    """
    parts = []
    for value, label in options:
        mark = " selected" if value == selected else ""
        parts.append(f'<option value="{escape(value)}"{mark}>{escape(label)}</option>')
    return mark_safe("".join(parts))


def values_html(values: Iterable[str]) -> SafeString:
    """``<option>`` elements of values alone (a datalist's suggestions), as one string."""
    return mark_safe("".join(f'<option value="{escape(value)}">' for value in values))


def query_text(request: HttpRequest, name: str) -> str:
    """A text query parameter, stripped; a NUL or an overlong value is a 400 that says why
    (the rule of accessgroups.core.limits.query_text, which the API follows too)."""
    try:
        return limits.query_text(request.GET.get(name), name)
    except ValidationError as exc:
        raise BadRequest(f"{name}: {exc.message_dict[name][0]}") from None
