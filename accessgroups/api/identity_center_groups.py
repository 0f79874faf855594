"""Identity Center groups under /api/v1/identity-center-groups/: the names an access group's
``approver_groups`` and ``eligible_groups`` may take (admins, auditors), as last read by a
worker, and a refresh on demand (admins; accessgroups.directory)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.base import PortalViewSet
from accessgroups.api.permissions import ADMIN, AUDITOR
from accessgroups.directory import services
from accessgroups.directory.selectors import identity_center_groups, last_group_sync
from accessgroups.models import GroupSync, IdentityCenterGroup


class IdentityCenterGroupOut(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)
    member_count = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Members at the last refresh; null for a group no access group names "
        "(its members are not read).",
    )

    class Meta:
        model = IdentityCenterGroup
        fields = [
            "name",
            "group_id",
            "description",
            "member_count",
            "members_synced_at",
            "synced_at",
        ]
        read_only_fields = fields


class GroupSyncOut(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(read_only=True, slug_field="username")

    class Meta:
        model = GroupSync
        fields = [
            "started_at",
            "finished_at",
            "running",
            "requested_by",
            "groups",
            "groups_read",
            "members",
            "calls",
            "error",
        ]
        read_only_fields = fields


class GroupSyncStatus(serializers.Serializer):
    interval_seconds = serializers.IntegerField(
        help_text="GROUP_SYNC_SECONDS: how often a refresh runs; 0: only on demand."
    )
    last = GroupSyncOut(allow_null=True, help_text="The last refresh; null before the first.")


class GroupSyncAccepted(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema_view(
    list=extend_schema(summary="Identity Center groups, by name (auditors, admins)")
)
class IdentityCenterGroupViewSet(mixins.ListModelMixin, PortalViewSet):
    """Groups of the Identity Center identity store (usually synced from the identity
    provider), as the last refresh read them: every ``GROUP_SYNC_SECONDS`` and on demand.
    The portal's own access groups are left out: they cannot approve or gate another."""

    serializer_class = IdentityCenterGroupOut
    queryset = IdentityCenterGroup.objects.all()
    action_roles = {"list": AUDITOR, "sync": AUDITOR, "sync_now": ADMIN}

    def get_queryset(self) -> QuerySet:
        return identity_center_groups().exclude(services.portal_group_filter())

    @extend_schema(
        summary="The last refresh of the groups: when, what it read, its error (auditors, admins)",
        responses={200: GroupSyncStatus},
    )
    @action(detail=False, methods=["get"])
    def sync(self, request: Request) -> Response:
        run = last_group_sync()
        return Response(
            {
                "interval_seconds": settings.GROUP_SYNC_SECONDS,
                "last": None if run is None else GroupSyncOut(run).data,
            }
        )

    @extend_schema(
        summary="Read the groups and their members from Identity Center now (admin)",
        request=None,
        responses={202: GroupSyncAccepted},
    )
    @sync.mapping.post
    def sync_now(self, request: Request) -> Response:
        services.group_sync_request(actor=request.user)
        return Response(
            {"detail": "A worker is reading the groups and their members from Identity Center."},
            status=status.HTTP_202_ACCEPTED,
        )
