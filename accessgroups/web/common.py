"""What the pages share: paging and query parameters."""

from __future__ import annotations

from django.core.exceptions import BadRequest, ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from accessgroups.core import limits

PAGE_SIZE = 20


def paginate(
    request: HttpRequest, items, *, per_page: int = PAGE_SIZE, param: str = "page"
) -> Page:
    """One page of ``items``; a page number out of range or not a number gives the nearest page."""
    return Paginator(items, per_page).get_page(request.GET.get(param))


def query_text(request: HttpRequest, name: str) -> str:
    """A text query parameter, stripped; a NUL or an overlong value is a 400 that says why
    (the rule of accessgroups.core.limits.query_text, which the API follows too)."""
    try:
        return limits.query_text(request.GET.get(name), name)
    except ValidationError as exc:
        raise BadRequest(f"{name}: {exc.message_dict[name][0]}") from None
