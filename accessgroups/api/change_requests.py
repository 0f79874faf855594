"""Change requests under /api/v1/change-requests/: four eyes on access groups.

With CHANGE_APPROVAL=required, POST, PATCH and DELETE on /api/v1/access-groups/ answer 202
with one of these instead of applying the change; another admin approves it, which applies
it (accessgroups.changes.services, docs/decisions/0018-change-requests.md). Auditors read
them; admins propose and decide.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
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

from accessgroups.api.access_group_serializers import AccessGroupIn
from accessgroups.api.base import PortalViewSet, choice_parameter, query_choice
from accessgroups.api.change_output import ChangeRequestOut, change_response
from accessgroups.api.fields import json_type_errors
from accessgroups.api.permissions import ADMIN, AUDITOR
from accessgroups.changes import services as changes
from accessgroups.core.limits import TEXT_MAX
from accessgroups.models import AccessGroup, ChangeAction, ChangeRequest, ChangeStatus

STATUSES = [c.value for c in ChangeStatus]


@extend_schema_field(AccessGroupIn(partial=True))
class GroupFieldsField(serializers.DictField):
    """An access group's fields, as PATCH /api/v1/access-groups/{id}/ takes them (create
    needs ``name`` too); checked with AccessGroupIn in the view."""


class ChangeRequestIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=ChangeAction.values)
    access_group = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="null for create."
    )
    fields = GroupFieldsField(
        required=False,
        default=dict,
        help_text="The access group's fields as POST (create) or PATCH (update) "
        "/api/v1/access-groups/ take them; nothing for archive.",
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)


class DecisionIn(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)


def group_fields(data: Any, *, partial: bool) -> dict[str, Any]:
    """An access group's fields checked as the access group endpoints check them (400
    naming the field)."""
    serializer = AccessGroupIn(data=data, partial=partial)
    if isinstance(data, dict):
        wrong_types = json_type_errors(serializer.fields, data)
        if wrong_types:
            raise serializers.ValidationError(wrong_types)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema_view(
    list=extend_schema(
        summary="Change requests of access groups (pending first)",
        parameters=[choice_parameter("status", STATUSES, "Only change requests in this status.")],
    ),
    retrieve=extend_schema(summary="One change request"),
)
class ChangeRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Proposed changes of access groups that another admin must approve (CHANGE_APPROVAL).
    Read: auditors and admins; propose and decide: admins. Approving applies the change, and
    Identity Center is then updated like after any change."""

    queryset = ChangeRequest.objects.all()
    serializer_class = ChangeRequestOut
    action_roles = {
        "list": AUDITOR,
        "retrieve": AUDITOR,
        "create": ADMIN,
        "approve": ADMIN,
        "reject": ADMIN,
        "withdraw": ADMIN,
    }
    conflict_actions = frozenset({"create", "approve", "reject", "withdraw"})

    def get_queryset(self) -> QuerySet:
        queryset = ChangeRequest.objects.select_related(
            "access_group", "proposed_by", "decided_by"
        ).pending_first()
        if self.action == "list":
            wanted = query_choice(self.request, "status", STATUSES)
            if wanted:
                queryset = queryset.filter(status=wanted)
        return queryset

    @extend_schema(
        summary="Propose a change of an access group (admin)",
        request=ChangeRequestIn,
        responses={201: ChangeRequestOut},
    )
    def create(self, request: Request) -> Response:
        data = self.read_input(ChangeRequestIn)
        kind = data["action"]
        group = None
        if data.get("access_group") is not None:
            group = AccessGroup.objects.filter(pk=data["access_group"]).first()
            if group is None:
                raise serializers.ValidationError({"access_group": ["No access group with this id."]})
        fields: dict[str, Any] = {}
        if kind != ChangeAction.ARCHIVE:
            fields = group_fields(data.get("fields") or {}, partial=kind == ChangeAction.UPDATE)
        change = changes.change_propose(
            actor=request.user,
            action=kind,
            access_group=group,
            fields=fields,
            comment=data.get("comment", ""),
        )
        return change_response(change, status.HTTP_201_CREATED)

    def _decide(self, decide, code: int = status.HTTP_200_OK, **kwargs: Any) -> Response:
        change = decide(actor=self.request.user, change_request=self.get_object(), **kwargs)
        return change_response(change, code)

    @extend_schema(
        summary="Approve and apply a change (admin, never the proposer)",
        request=DecisionIn,
        responses={
            202: OpenApiResponse(
                ChangeRequestOut, description="Applied; Identity Center is being updated."
            )
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        data = self.read_input(DecisionIn)
        return self._decide(
            changes.change_approve, status.HTTP_202_ACCEPTED, comment=data.get("comment", "")
        )

    @extend_schema(
        summary="Reject a change, saying why (admin, not the proposer)",
        request=DecisionIn,
        responses={200: ChangeRequestOut},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        data = self.read_input(DecisionIn)
        return self._decide(changes.change_reject, comment=data.get("comment", ""))

    @extend_schema(
        summary="Withdraw one's own pending change (its proposer)",
        request=None,
        responses={200: ChangeRequestOut},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        return self._decide(changes.change_withdraw)
