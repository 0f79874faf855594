"""The page numbers of every list under /api/v1/ (REST_FRAMEWORK's DEFAULT_PAGINATION_CLASS).

A module of its own: DRF imports it while it defines its generic views, so it may import
nothing that imports them (accessgroups.api.base does).
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class PortalPagination(PageNumberPagination):
    """DRF's page numbers, held to the schema: ``?page=`` with no number is refused (404,
    as for any page that does not exist) rather than read as the first page."""

    def get_page_number(self, request: Request, paginator: Any) -> str | int:
        page_number = request.query_params.get(self.page_query_param)
        if page_number is None:
            return 1
        if page_number in self.last_page_strings:
            return paginator.num_pages
        return page_number

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
