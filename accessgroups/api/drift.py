"""Drift under /api/v1/drift/: the findings of the drift scans (auditors, admins), and a
scan on demand (admins; a worker runs it, through accessgroups.drift.services)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PortalViewSet,
    boolean_parameter,
    query_choice,
)
from accessgroups.api.permissions import ADMIN, AUDITOR
from accessgroups.drift import services
from accessgroups.drift.selectors import drift_findings
from accessgroups.models import DriftFinding, DriftKind, DriftResolution


class DriftFindingOut(serializers.ModelSerializer):
    # Declared, not derived: a read-only model field would promise one of the choices.
    kind = serializers.ChoiceField(choices=DriftKind.choices, read_only=True)
    principal = serializers.CharField(
        read_only=True,
        help_text=(
            'Who it concerns: a portal username, an access group\'s name, or "USER <id>" / '
            '"GROUP <id>" for an identity the portal does not know; "" for a permission set.'
        ),
    )
    account_id = serializers.CharField(
        read_only=True, help_text='The AWS account of an assignment finding; "" otherwise.'
    )
    resolution = serializers.ChoiceField(
        choices=DriftResolution.choices,
        allow_blank=True,
        read_only=True,
        help_text='reverted: undone by the portal; gone: no longer seen; "" while open.',
    )

    class Meta:
        model = DriftFinding
        fields = [
            "id",
            "kind",
            "access_group",
            "principal",
            "account_id",
            "detail",
            "detected_at",
            "resolved_at",
            "resolution",
        ]
        read_only_fields = fields


class DriftScanOut(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema_view(
    list=extend_schema(
        summary="Drift findings (auditors, admins), newest first",
        parameters=[
            boolean_parameter("open", "true: findings still open; false: resolved ones."),
        ],
    ),
)
class DriftFindingViewSet(mixins.ListModelMixin, PortalViewSet):
    """What the drift scan found in IAM Identity Center that the portal did not write
    (members, assignments, permission-set contents) or that is missing although it did.
    Each finding is resolved once the portal undid it (DRIFT_POLICY=revert) or a later scan
    no longer saw it. Auditors and admins read; admins ask for a scan."""

    serializer_class = DriftFindingOut
    queryset = DriftFinding.objects.all()
    action_roles = {"list": AUDITOR, "scan": ADMIN}

    def get_queryset(self) -> QuerySet:
        wanted = query_choice(self.request, "open", BOOLEAN_CHOICES)
        return drift_findings(open=None if wanted is None else wanted == "true")

    @extend_schema(
        summary="Scan Identity Center for drift now (admin)",
        request=None,
        responses={202: DriftScanOut},
    )
    @action(detail=False, methods=["post"])
    def scan(self, request: Request) -> Response:
        services.drift_scan_request(actor=request.user)
        return Response(
            {"detail": "A worker is comparing Identity Center with the portal."},
            status=status.HTTP_202_ACCEPTED,
        )
