"""Pages of the who-has-access report's JSON: found by a row's key, linked by cursors.

The public shape is every list's, ``{count, next, previous, results}``; ``next`` and
``previous`` are URLs with an opaque ``cursor`` (accessgroups.reports.rows): the key of the
page's last or first row, signed. A page found by its key costs what the first page costs,
where a page number makes the database build and skip every row before it. ``?page=N`` is
still read, the old way, for clients that ask for a number; its links are cursors too.
``count`` is exact and comes from two small aggregates (selectors.report_count), not from a
count of the report's join.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import InvalidPage
from django.core.paginator import Paginator as DjangoPaginator
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from accessgroups.api.pagination import PortalPagination
from accessgroups.reports.rows import AFTER, BEFORE, BadCursor, Rows, cursor_token, read_cursor

CURSOR_MESSAGE = "Not a cursor of this list: follow the next and previous links as given."


class ReportCursorPagination(PortalPagination):
    cursor_query_param = "cursor"
    cursor_query_description = (
        "Where the page starts: the opaque value in the next and previous links. "
        "Without it, the first page (or the page numbered by page)."
    )

    def paginate_queryset(self, queryset: Rows, request: Request, view: Any = None) -> list:
        self.request = request
        self.rows = queryset
        size = self.get_page_size(request)
        token = request.query_params.get(self.cursor_query_param)
        if token is not None:
            try:
                direction, key = read_cursor(token)
            except BadCursor:
                raise ValidationError({self.cursor_query_param: CURSOR_MESSAGE}) from None
            self.page = queryset.keyset_page(**{direction: key}, size=size)
        else:
            paginator = DjangoPaginator(queryset, size)
            number = self.get_page_number(request, paginator)
            try:
                number = paginator.validate_number(number)
            except InvalidPage as exc:
                message = self.invalid_page_message.format(page_number=number, message=str(exc))
                raise NotFound(message) from None
            self.page = queryset.offset_page(offset=(number - 1) * size, size=size)
        return self.page.object_list

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.rows.count(),
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def _link(self, direction: str, key: tuple | None) -> str:
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, cursor_token(direction, key))

    def get_next_link(self) -> str | None:
        return self._link(AFTER, self.page.last_key) if self.page.has_next else None

    def get_previous_link(self) -> str | None:
        return self._link(BEFORE, self.page.first_key) if self.page.has_previous else None

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        example = "https://portal.example.org/api/v1/reports/who-has-access/?cursor=WyJhZnRlciJd:1a2b"
        response["properties"]["next"]["example"] = example
        response["properties"]["previous"]["example"] = example
        return response

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["description"] = (
                    "A page number (the database counts past every row before it); the next "
                    "and previous links use cursor instead."
                )
        return [
            *parameters,
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            },
        ]
