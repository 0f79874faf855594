"""The audit log under /api/v1/audit-events/: pages of events, or the whole log as a file.

``?format=`` works as on the reports (accessgroups.api.reports). A file carries the
chain's head hash (accessgroups.core.audit), so an outside copy can be checked later.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.base import (
    PortalViewSet,
    query_text,
    query_time,
    text_parameter,
    time_parameter,
)
from accessgroups.api.permissions import AUDITOR
from accessgroups.api.reports import FileFormatMixin, format_parameter
from accessgroups.core.audit import GENESIS_HASH
from accessgroups.models import AuditEvent
from accessgroups.reports.exports import csv_response, jsonl_response


class AuditEventOut(serializers.ModelSerializer):
    """Expects subject joined. ``actor`` is the username stored with the event."""

    actor = serializers.CharField(source="actor_username", read_only=True)
    subject = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)
    data = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "sequence",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "access_group",
            "subject",
            "message",
            "data",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


AUDIT_CSV_COLUMNS = list(AuditEventOut.Meta.fields)
AUDIT_FORMATS = ("json", "csv", "jsonl")
AUDIT_HEAD_HEADER = "X-Audit-Head-Hash"


class LogPaginator(Paginator):
    """Pages of the whole log, counted by its last sequence: the log is append-only and its
    sequence has no gaps (accessgroups.core.audit), so the last one is the number of events,
    read from the sequence's index, where ``COUNT(*)`` reads every event on every page."""

    @cached_property
    def count(self) -> int:
        last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)
        return last.first() or 0


@extend_schema_view(
    list=extend_schema(
        summary="The audit log (auditors, admins), oldest first",
        parameters=[
            format_parameter(AUDIT_FORMATS),
            text_parameter("action", "e.g. request.approved"),
            text_parameter("actor", "Username of who acted."),
            text_parameter("object_type", "e.g. accessrequest, membership, accessgroup"),
            text_parameter("object_id"),
            time_parameter("since", "From this moment (inclusive)."),
            time_parameter(
                "until", "Up to this moment (inclusive); a date means to the end of that day."
            ),
        ],
        responses={
            (200, "application/json"): AuditEventOut(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/jsonl"): OpenApiTypes.STR,
        },
    ),
    retrieve=extend_schema(summary="One audit event"),
)
class AuditEventViewSet(FileFormatMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """The append-only audit log: every change to access or its configuration and every
    Identity Center call made for it. Auditors and admins. ``?format=csv`` or ``jsonl``
    streams it whole, with the chain's head hash in the X-Audit-Head-Hash header (and, for
    JSON Lines, a last line ``{"head": ...}``)."""

    formats = AUDIT_FORMATS

    serializer_class = AuditEventOut
    queryset = AuditEvent.objects.all()
    action_roles = {"list": AUDITOR, "retrieve": AUDITOR}

    def get_queryset(self) -> QuerySet:
        queryset = AuditEvent.objects.select_related("subject").order_by("sequence")
        self.filtered = False
        if self.action != "list":
            return queryset
        for name, lookup in (
            ("action", "action"),
            ("actor", "actor_username"),
            ("object_type", "object_type"),
            ("object_id", "object_id"),
        ):
            value = query_text(self.request, name)
            if value:
                queryset = queryset.filter(**{lookup: value})
                self.filtered = True
        since = query_time(self.request, "since")
        until = query_time(self.request, "until", end_of_day=True)
        if since:
            queryset = queryset.filter(created_at__gte=since)
        if until:
            queryset = queryset.filter(created_at__lte=until)
        self.filtered = self.filtered or bool(since or until)
        return queryset

    def list(self, request: Request) -> Response | StreamingHttpResponse:
        fmt = self.requested_format()
        queryset = self.get_queryset()
        if fmt == "json":
            if not self.filtered:
                self.paginator.django_paginator_class = LogPaginator
            page = self.paginate_queryset(queryset)
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        # The head of the whole log when the export starts, whatever the filters: what an
        # outside copy is checked against later (verify_audit --head). Events written while
        # the file is sent are left out, so the file ends at that head.
        head = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
        head_hash = head["hash"] if head else GENESIS_HASH
        queryset = queryset.filter(sequence__lte=head["sequence"] if head else 0)
        out = AuditEventOut()

        def rows() -> Iterator[list[Any]]:
            # A few hundred bytes per event: 2,000 per fetch keeps round trips few.
            for event in queryset.iterator(chunk_size=2000):
                data = out.to_representation(event)
                yield [data[c] for c in AUDIT_CSV_COLUMNS]

        filename = f"audit-events-{timezone.now():%Y%m%dT%H%M%SZ}.{fmt}"
        if fmt == "csv":
            response = csv_response(AUDIT_CSV_COLUMNS, rows(), filename)
        else:
            response = jsonl_response(
                AUDIT_CSV_COLUMNS, rows(), filename, trailer={"head": head_hash}
            )
        response[AUDIT_HEAD_HEADER] = head_hash
        return response
