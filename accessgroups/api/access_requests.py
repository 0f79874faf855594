"""Access requests under /api/v1/access-requests/: ask, approve, reject, cancel, revoke.

Who may decide (the group's approvers and admins, never for themselves), what an approval
or a cancellation does and when a request refuses are accessgroups.access.services' rules;
the status code says whether Identity Center has work to do (202) or not (200).
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.access import break_glass, services
from accessgroups.access.selectors import break_glass_reviews_for, review_due_at
from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PortalViewSet,
    boolean_parameter,
    choice_parameter,
    id_parameter,
    query_choice,
    query_int,
    query_text,
    text_parameter,
)
from accessgroups.api.fields import CommentIn, RevokeIn, hours_field
from accessgroups.api.grants import GrantsOut
from accessgroups.api.openapi import NOT_BLANK
from accessgroups.api.permissions import SIGNED_IN
from accessgroups.catalogue.grants import current_memberships, request_grants
from accessgroups.catalogue.selectors import current_accounts_prefetch, current_policies_prefetch
from accessgroups.core.limits import TEXT_MAX
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    BreakGlassReview,
    Decision,
    RequestStatus,
)


class DecisionOut(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(
        read_only=True, slug_field="username", allow_null=True,
        help_text="null: the portal approved (outcome auto).",
    )

    class Meta:
        model = Decision
        fields = ["decided_by", "outcome", "comment", "access_group_version", "created_at"]
        read_only_fields = fields


class BreakGlassReviewOut(serializers.Serializer):
    due_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.CharField(allow_null=True)
    outcome = serializers.ChoiceField(choices=BreakGlassReview.values, allow_null=True)


class AccessRequestOut(serializers.ModelSerializer):
    """Expects requester, access_group and membership joined, decisions prefetched."""

    requester = serializers.SlugRelatedField(read_only=True, slug_field="username")
    access_group_name = serializers.CharField(source="access_group.name", read_only=True)
    access_group_version = serializers.IntegerField(
        source="access_group.version",
        read_only=True,
        help_text="The access group's version now; send it with an approval to approve exactly "
        "what you were shown.",
    )
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    decisions = DecisionOut(many=True, read_only=True)
    approvals = serializers.SerializerMethodField(
        help_text="Distinct approvals so far that count (on the group's current version while "
        "pending)."
    )
    risk = serializers.CharField(source="access_group.risk", read_only=True)
    break_glass_review = serializers.SerializerMethodField()

    class Meta:
        model = AccessRequest
        fields = [
            "id",
            "access_group",
            "access_group_name",
            "access_group_version",
            "requester",
            "justification",
            "duration_hours",
            "status",
            "is_extension",
            "created_at",
            "expires_at",
            "decisions",
            "approvals",
            "approvals_required",
            "risk",
            "break_glass",
            "break_glass_review",
            "starts_at",
            "last_error",
        ]
        read_only_fields = fields

    def get_approvals(self, request: AccessRequest) -> int:
        return request.approvals

    @extend_schema_field(BreakGlassReviewOut(allow_null=True))
    def get_break_glass_review(self, request: AccessRequest) -> dict | None:
        if not request.break_glass:
            return None
        reviewer = request.break_glass_reviewed_by
        return {
            "due_at": review_due_at(request),
            "reviewed_at": request.break_glass_reviewed_at,
            "reviewed_by": reviewer.username if reviewer else None,
            "outcome": request.break_glass_review_outcome or None,
        }


class AccessRequestDetailOut(AccessRequestOut):
    """One request, with what approving it grants (``grants``); expects the group's current
    accounts and policies prefetched."""

    grants = serializers.SerializerMethodField()

    class Meta(AccessRequestOut.Meta):
        fields = [*AccessRequestOut.Meta.fields, "grants"]
        read_only_fields = fields

    @extend_schema_field(GrantsOut)
    def get_grants(self, obj: AccessRequest) -> dict:
        return GrantsOut(request_grants(obj, current_memberships([obj]))).data


class AccessRequestIn(serializers.Serializer):
    """The access group must be live and requestable; the duration is required and within
    the group's maximum when it has one. A second open request for the same group is
    refused (409)."""

    # Blank is refused by accessgroups.access.services, with its own message.
    schema_rules = {"justification": NOT_BLANK}

    access_group = serializers.PrimaryKeyRelatedField(queryset=AccessGroup.objects.all())
    justification = serializers.CharField(allow_blank=True, max_length=TEXT_MAX)
    duration_hours = hours_field()
    break_glass = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Emergency access, granted at once on a group that allows it (403 otherwise), "
        "for at most BREAK_GLASS_MAX_HOURS and the group's cap; needs a justification of at "
        "least 20 characters; an approver reviews it afterwards.",
    )
    starts_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When access should start (ISO 8601), up to 30 days ahead; null or absent: "
        "as soon as approved. Once approved, the request stays approved until then and may "
        "be cancelled. In the past or too far ahead: 400. Break-glass ignores it.",
    )


class ApproveIn(CommentIn):
    access_group_version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The access group's version you reviewed (access_group_version of the "
        "request). If the group changed since, the approval is refused with 409 saying what "
        "changed.",
    )


class RejectIn(CommentIn):
    pass


class AcknowledgeIn(CommentIn):
    pass


class CancelIn(CommentIn):
    pass


@extend_schema_view(
    list=extend_schema(
        summary="Access requests you may see (own, your groups', all for auditors and admins)",
        parameters=[
            choice_parameter("status", RequestStatus.values),
            id_parameter("access_group", "Access group id."),
            text_parameter("requester", "Username."),
            boolean_parameter("decidable", "true: only requests you can decide now."),
            boolean_parameter(
                "break_glass_review_pending",
                "true: only break-glass access you may review that nobody has reviewed yet.",
            ),
        ],
    ),
    retrieve=extend_schema(
        summary="One access request, with what approving it grants",
        responses={200: AccessRequestDetailOut},
    ),
)
class AccessRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Requests for access. Everyone signed in sees their own requests, approvers those of
    their groups, auditors and admins all. Approvers of the group and admins decide (never
    their own request); the requester may cancel an open request or give up active access."""

    serializer_class = AccessRequestOut
    queryset = AccessRequest.objects.all()
    action_roles = {
        "list": SIGNED_IN,
        "retrieve": SIGNED_IN,
        "create": SIGNED_IN,
        "approve": SIGNED_IN,
        "reject": SIGNED_IN,
        "cancel": SIGNED_IN,
        "revoke": SIGNED_IN,
        "acknowledge": SIGNED_IN,
    }
    conflict_actions = frozenset({"create", "approve", "reject", "cancel", "revoke", "acknowledge"})

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return AccessRequestDetailOut if self.action == "retrieve" else AccessRequestOut

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        queryset = (
            AccessRequest.objects.visible_to(user)
            .select_related("requester", "access_group", "membership", "break_glass_reviewed_by")
            .prefetch_related(
                Prefetch("decisions", queryset=Decision.objects.select_related("decided_by"))
            )
            .order_by("-created_at", "-id")
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                current_accounts_prefetch("access_group__"),
                current_policies_prefetch("access_group__"),
            )
        if self.action == "list":
            wanted = query_choice(self.request, "status", RequestStatus.values)
            if wanted:
                queryset = queryset.filter(status=wanted)
            group_id = query_int(self.request, "access_group")
            if group_id is not None:
                queryset = queryset.filter(access_group_id=group_id)
            requester = query_text(self.request, "requester")
            if requester:
                queryset = queryset.filter(requester__username=requester)
            if query_choice(self.request, "decidable", BOOLEAN_CHOICES) == "true":
                queryset = queryset.filter(
                    pk__in=AccessRequest.objects.decidable_by(user).values("pk")
                )
            if query_choice(self.request, "break_glass_review_pending", BOOLEAN_CHOICES) == "true":
                queryset = queryset.filter(pk__in=break_glass_reviews_for(user).values("pk"))
        return queryset

    @extend_schema(
        summary="Ask for access", request=AccessRequestIn, responses={201: AccessRequestOut}
    )
    def create(self, request: Request) -> Response:
        data = self.read_input(AccessRequestIn)
        access_request = services.access_request_create(requester=request.user, **data)
        return self.respond(access_request, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve (the group's approvers and admins, never one's own request)",
        request=ApproveIn,
        responses={
            200: OpenApiResponse(
                AccessRequestOut,
                description="An extension of active access: expiry moved; or an approval "
                "recorded while more are required (still pending).",
            ),
            202: OpenApiResponse(
                AccessRequestOut, description="Approved; access is being provisioned."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        data = self.read_input(ApproveIn)
        approved = services.access_request_approve(
            access_request=self.get_object(),
            approver=request.user,
            comment=data["comment"],
            access_group_version=data.get("access_group_version"),
        )
        # ACTIVE at once means it extended access already in Identity Center, PENDING that
        # more approvals are needed: nothing to do in AWS.
        code = (
            status.HTTP_200_OK
            if approved.status in (RequestStatus.ACTIVE, RequestStatus.PENDING)
            else status.HTTP_202_ACCEPTED
        )
        return self.respond(approved, code)

    @extend_schema(
        summary="Reject (the group's approvers and admins)",
        request=RejectIn,
        responses={200: AccessRequestOut},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        comment = self.read_input(RejectIn)["comment"]
        rejected = services.access_request_reject(
            access_request=self.get_object(), approver=request.user, comment=comment
        )
        return self.respond(rejected)

    @extend_schema(
        summary="Cancel an open request (the requester or an admin)",
        request=CancelIn,
        responses={
            200: OpenApiResponse(
                AccessRequestOut, description="Cancelled; no access had been granted."
            ),
            202: OpenApiResponse(
                AccessRequestOut, description="Cancelled; access being set up is removed."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        comment = self.read_input(CancelIn)["comment"]
        cancelled = services.access_request_cancel(
            access_request=self.get_object(), user=request.user, comment=comment
        )
        removing = cancelled.membership_id is not None and not cancelled.is_extension
        return self.respond(cancelled, status.HTTP_202_ACCEPTED if removing else status.HTTP_200_OK)

    @extend_schema(
        summary="Revoke the access a request granted (approvers, admins, or the requester)",
        request=RevokeIn,
        responses={202: AccessRequestOut},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        comment = self.read_input(RevokeIn)["comment"]
        revoked = services.access_request_revoke(
            access_request=self.get_object(), user=request.user, comment=comment
        )
        return self.respond(revoked, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Acknowledge break-glass access as justified (the group's approvers and "
        "admins, never one's own)",
        request=AcknowledgeIn,
        responses={200: AccessRequestOut},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        comment = self.read_input(AcknowledgeIn)["comment"]
        acknowledged = break_glass.access_request_acknowledge(
            access_request=self.get_object(), reviewer=request.user, comment=comment
        )
        return self.respond(acknowledged)
