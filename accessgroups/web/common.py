"""What the pages share: paging and query parameters."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from accessgroups.core import limits

PAGE_SIZE = 20


def paginate(request: HttpRequest, items, *, per_page: int = PAGE_SIZE) -> Page:
    """One page of ``items``; a page number out of range or not a number gives the nearest page."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


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
