"""Who has access under /api/v1/reports/, as JSON pages or whole files; the file formats
the audit log (accessgroups.api.audit_events) shares.

``?format=json`` (the default) answers pages of rows like every list; ``?format=csv`` or
``jsonl`` answers the whole report as one file, written while it is sent
(StreamingHttpResponse over a database iterator), so memory and the number of queries stay
flat however many rows there are; ``xlsx`` is written to a temporary file first (see
accessgroups.reports.exports). DRF's own ``format`` URL override is off in settings
(``URL_FORMAT_OVERRIDE``): a renderer has no place for a streamed file, so the format is
handled here.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.base import (
    PortalViewSet,
    choice_parameter,
    id_parameter,
    query_choice,
    query_int,
    query_text,
    query_time,
    text_parameter,
    time_parameter,
)
from accessgroups.api.permissions import AUDITOR
from accessgroups.api.report_pagination import ReportCursorPagination
from accessgroups.models import AccessGroup, Account, Membership, User
from accessgroups.reports.export_rows import who_has_access_batches
from accessgroups.reports.exports import (
    XLSX_CONTENT_TYPE,
    csv_batches_response,
    jsonl_batches_response,
    xlsx_response,
)
from accessgroups.reports.selectors import WHO_HAS_ACCESS_COLUMNS, who_has_access

FORMATS_HELP = {
    "json": "json (default): pages of rows",
    "csv": "csv: the whole file, streamed, formula-like cells neutralised",
    "jsonl": "jsonl: JSON Lines, the whole report streamed",
    "xlsx": "xlsx: a workbook, formula-like cells neutralised",
}


def format_parameter(formats: tuple[str, ...]) -> OpenApiParameter:
    return choice_parameter("format", formats, "; ".join(FORMATS_HELP[f] for f in formats))


class FileFormatMixin:
    """``?format=`` one of ``formats`` on a list (see the module's docstring)."""

    formats: tuple[str, ...] = ("json", "csv")

    def requested_format(self) -> str:
        return query_choice(self.request, "format", self.formats, default="json")

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # ?format=json asks for JSON whatever the Accept header (a browser sends text/html);
        # errors of a file request are JSON too.
        if request.query_params.get("format") in FORMATS_HELP:
            renderer = JSONRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)


WHO_HAS_ACCESS_FORMATS = ("json", "csv", "jsonl", "xlsx")


class WhoHasAccessRow(serializers.Serializer):
    """One row of accessgroups.reports.selectors.who_has_access, times in ISO 8601 UTC."""

    username = serializers.CharField()
    email = serializers.CharField()
    access_group = serializers.CharField()
    permission_set = serializers.CharField()
    account_id = serializers.CharField()
    account_name = serializers.CharField()
    source = serializers.CharField()
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    approved_by = serializers.CharField(allow_null=True)
    justification = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(
        choices=["active", "removal_pending"],
        help_text="active: confirmed in Identity Center. removal_pending: the portal ended this "
        "access and Identity Center has not confirmed its removal yet.",
    )
    ended_at = serializers.DateTimeField(
        allow_null=True, help_text="When the portal ended it (removal_pending rows)."
    )
    last_error = serializers.CharField(
        allow_blank=True, help_text="Why the removal is not confirmed yet (removal_pending rows)."
    )
    account_ou_path = serializers.CharField(
        allow_blank=True,
        help_text='Where AWS Organizations holds the account today ("Root/Workloads/Prod").',
    )


@extend_schema_view(
    list=extend_schema(
        summary="Who has access in Identity Center: one row per user, group, account",
        parameters=[
            format_parameter(WHO_HAS_ACCESS_FORMATS),
            text_parameter("account", "12-digit AWS account id; an unknown one is refused."),
            id_parameter("access_group", "Access group id; an unknown one is refused."),
            text_parameter("user", "Username; an unknown one is refused."),
            time_parameter("expiring_before", "Only grants that expire before this moment."),
            time_parameter("at", "Who had access at this past moment, from the dated history."),
        ],
        responses={
            (200, "application/json"): WhoHasAccessRow(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/jsonl"): OpenApiTypes.STR,
            (200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY,
        },
    )
)
class WhoHasAccessViewSet(FileFormatMixin, PortalViewSet):
    """What Identity Center grants: active, provisioned memberships of live access groups on
    current, provisioned accounts (``state`` ``active``), and access the portal has ended
    whose removal Identity Center has not confirmed yet (``state`` ``removal_pending``, with
    ``ended_at`` and ``last_error``); with ``?at=`` who had access at a past moment, from the
    dated history. Auditors and admins. Times are ISO 8601 UTC. ``?format=csv`` or ``jsonl``
    streams the whole report, ``xlsx`` sends it as a workbook; same columns in all. JSON comes
    in pages of 50 rows: follow ``next`` and ``previous`` (URLs with an opaque ``cursor`` that
    keep the filters); a late page costs what the first does. ``count`` is exact."""

    formats = WHO_HAS_ACCESS_FORMATS

    serializer_class = WhoHasAccessRow
    # JSON pages by a row's key: ``next`` and ``previous`` carry a cursor.
    pagination_class = ReportCursorPagination
    # Rows come from the selector; this only names the model for the schema generator.
    queryset = Membership.objects.none()
    action_roles = {"list": AUDITOR}

    def _filters(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        account_id = query_text(self.request, "account")
        if account_id:
            found["account"] = Account.objects.filter(account_id=account_id).first()
            if found["account"] is None:
                raise ValidationError({"account": f"No account {account_id!r} is known."})
        group_id = query_int(self.request, "access_group")
        if group_id is not None:
            found["access_group"] = AccessGroup.objects.filter(pk=group_id).first()
            if found["access_group"] is None:
                raise ValidationError({"access_group": f"No access group {group_id}."})
        username = query_text(self.request, "user")
        if username:
            found["user"] = User.objects.filter(username=username).first()
            if found["user"] is None:
                raise ValidationError({"user": f"No user {username!r}."})
        return found

    def list(self, request: Request) -> Response | StreamingHttpResponse | FileResponse:
        fmt = self.requested_format()
        filters = self._filters()
        filters["expiring_before"] = query_time(self.request, "expiring_before")
        filters["at"] = query_time(self.request, "at")
        if fmt == "json":
            page = self.paginate_queryset(who_has_access(**filters))
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        header = list(WHO_HAS_ACCESS_COLUMNS)
        # The files read the same rows as the pages through a query of their own, which
        # returns the values as the JSON rows show them (accessgroups.reports.export_rows).
        moment = f"{filters['at'] or timezone.now():%Y%m%dT%H%M%SZ}"
        filename = f"who-has-access-{moment}.{fmt}"
        if fmt == "csv":
            return csv_batches_response(
                header, who_has_access_batches(for_spreadsheet=True, **filters), filename
            )
        batches = who_has_access_batches(for_spreadsheet=False, **filters)
        if fmt == "jsonl":
            return jsonl_batches_response(header, batches, filename)
        values = (row for batch in batches for row in batch)
        return xlsx_response(header, values, filename)
