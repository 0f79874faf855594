"""Memberships under /api/v1/memberships/: who is in which access group; grant, revoke, retry.

A direct grant is audited like a request; grants and revocations are
accessgroups.access.services' (membership_grant, membership_revoke).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.access import services
from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PROVISIONING_FILTER,
    PortalViewSet,
    boolean_parameter,
    filter_provisioning,
    id_parameter,
    query_choice,
    query_int,
    query_text,
    text_parameter,
)
from accessgroups.api.fields import RevokeIn, UsernameField, hours_field
from accessgroups.api.openapi import NOT_BLANK
from accessgroups.api.permissions import ADMIN, SIGNED_IN
from accessgroups.core.limits import TEXT_MAX
from accessgroups.models import AccessGroup, EndReason, Membership


class MembershipOut(serializers.ModelSerializer):
    """Expects user, access_group and granted_by joined."""

    user = serializers.SlugRelatedField(read_only=True, slug_field="username")
    access_group_name = serializers.CharField(source="access_group.name", read_only=True)
    granted_by = serializers.SlugRelatedField(read_only=True, slug_field="username")
    # Declared, not derived: a read-only model field would promise one of the choices.
    end_reason = serializers.ChoiceField(
        choices=EndReason.choices,
        allow_blank=True,
        read_only=True,
        help_text='Why it ended; "" while the membership is active.',
    )

    class Meta:
        model = Membership
        fields = [
            "id",
            "user",
            "access_group",
            "access_group_name",
            "source",
            "justification",
            "granted_at",
            "granted_by",
            "expires_at",
            "ended_at",
            "end_reason",
            "provisioning_status",
            "last_error",
        ]
        read_only_fields = fields


class MembershipGrantIn(serializers.Serializer):
    """An active user and a live access group."""

    # Blank is refused by accessgroups.access.services, with its own message.
    schema_rules = {"justification": NOT_BLANK}

    user = UsernameField()
    access_group = serializers.PrimaryKeyRelatedField(queryset=AccessGroup.objects.all())
    duration_hours = hours_field()
    justification = serializers.CharField(allow_blank=True, max_length=TEXT_MAX)


@extend_schema_view(
    list=extend_schema(
        summary="Memberships you may see",
        parameters=[
            boolean_parameter("active", "true: current memberships; false: ended ones."),
            text_parameter("user", "Username."),
            id_parameter("access_group", "Access group id."),
            PROVISIONING_FILTER,
        ],
    ),
    retrieve=extend_schema(summary="One membership"),
)
class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Who is in which access group, now and before. Read by auditors and admins (all), the
    member (their own) and the approvers of a group (that group's: they may revoke access to
    it, so they see who has it). Admins grant; admins, the group's approvers and the member
    revoke."""

    serializer_class = MembershipOut
    queryset = Membership.objects.all()
    action_roles = {
        "list": SIGNED_IN,
        "retrieve": SIGNED_IN,
        "create": ADMIN,
        "revoke": SIGNED_IN,
        "retry": ADMIN,
    }
    conflict_actions = frozenset({"create", "revoke", "retry"})

    def get_queryset(self) -> QuerySet:
        queryset = (
            Membership.objects.visible_to(self.request.user)
            .select_related("user", "access_group", "granted_by")
            .order_by("-granted_at", "-id")
        )
        if self.action == "list":
            active = query_choice(self.request, "active", BOOLEAN_CHOICES)
            if active is not None:
                queryset = queryset.filter(ended_at__isnull=(active == "true"))
            member = query_text(self.request, "user")
            if member:
                queryset = queryset.filter(user__username=member)
            group_id = query_int(self.request, "access_group")
            if group_id is not None:
                queryset = queryset.filter(access_group_id=group_id)
            queryset = filter_provisioning(self.request, queryset)
        return queryset

    @extend_schema(
        summary="Grant access directly (admin), audited like a request",
        request=MembershipGrantIn,
        responses={
            200: OpenApiResponse(
                MembershipOut, description="Extended active access: expiry moved."
            ),
            202: OpenApiResponse(
                MembershipOut, description="Granted; access is being provisioned."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        data = self.read_input(MembershipGrantIn)
        membership = services.membership_grant(
            user=data["user"],
            access_group=data["access_group"],
            granted_by=request.user,
            justification=data["justification"],
            duration_hours=data.get("duration_hours"),
        )
        code = status.HTTP_200_OK if membership.activated_at else status.HTTP_202_ACCEPTED
        return self.respond(membership, code)

    @extend_schema(
        summary="End a membership (admins, the group's approvers, the member)",
        request=RevokeIn,
        responses={202: MembershipOut},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        comment = self.read_input(RevokeIn)["comment"]
        membership = services.membership_revoke(
            membership=self.get_object(), revoked_by=request.user, comment=comment
        )
        return self.respond(membership, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Retry a failed provisioning (admin)",
        request=None,
        responses={202: MembershipOut},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        services.provisioning_retry(obj=membership, actor=request.user)
        return self.respond(membership, status.HTTP_202_ACCEPTED)
