"""Access groups under /api/v1/access-groups/: read them, create, change, archive, retry.

The rules (name, session duration, policies, accounts, approvers) are
accessgroups.catalogue.services'; Identity Center catches up through the sync port, so a
write that changes it answers 202 and ``provisioning_status`` tells how far it is. DELETE
archives the group and answers 202 with the archived row, so the client sees the
teardown's progress.

With CHANGE_APPROVAL=required, POST, PATCH and DELETE change nothing: each answers 202 with
a change request (accessgroups.api.change_requests) that another admin must approve.
"""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.access import services
from accessgroups.api.access_group_serializers import (
    AccessGroupIn,
    AccessGroupOut,
    PlanIn,
    PlanOut,
)
from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PROVISIONING_FILTER,
    PortalViewSet,
    boolean_parameter,
    choice_parameter,
    filter_provisioning,
    query_choice,
)
from accessgroups.api.change_output import ChangeRequestOut, change_response
from accessgroups.api.permissions import ADMIN, AUDITOR, SIGNED_IN
from accessgroups.catalogue import services as catalogue
from accessgroups.changes import services as changes
from accessgroups.changes.config import configs_queryset
from accessgroups.changes.preview import change_preview
from accessgroups.changes.terraform import terraform_json
from accessgroups.changes.yaml_config import export_yaml
from accessgroups.models import AccessGroup, ChangeAction
from accessgroups.models.directory import may_request

ARCHIVED_CHOICES = ("false", "true", "all")
# ?format= of the export: (content type, file name, writer).
EXPORT_FORMATS = {
    "yaml": ("application/yaml", "access-groups.yaml", export_yaml),
    "terraform": ("application/json", "terraform.tfvars.json", terraform_json),
}


def group_or_proposal(description: str) -> OpenApiResponse:
    """A 202 that is the changed group, or with CHANGE_APPROVAL=required the change request."""
    return OpenApiResponse(
        PolymorphicProxySerializer(
            component_name=None,
            serializers=[AccessGroupOut, ChangeRequestOut],
            resource_type_field_name=None,
        ),
        description=description + " With CHANGE_APPROVAL=required: the change request "
        "another admin must approve; nothing changed yet.",
    )


@extend_schema_view(
    list=extend_schema(
        summary="Access groups",
        parameters=[
            choice_parameter(
                "archived",
                ARCHIVED_CHOICES,
                "false (default): live groups; true: archived groups; all: both.",
            ),
            PROVISIONING_FILTER,
            boolean_parameter(
                "may_request", "true: only the groups the caller may request (the catalogue)."
            ),
        ],
    ),
    retrieve=extend_schema(summary="One access group (archived ones too)"),
)
class AccessGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Access groups: an Identity Center group, permission set and account assignments as one
    thing. Read: everyone signed in; write: admins. Writes answer 202 while Identity Center is
    being updated; ``provisioning_status`` and ``account_status`` tell how far it is."""

    queryset = AccessGroup.objects.all()
    serializer_class = AccessGroupOut
    action_roles = {
        "list": SIGNED_IN,
        "retrieve": SIGNED_IN,
        "create": ADMIN,
        "partial_update": ADMIN,
        "destroy": ADMIN,
        "retry": ADMIN,
        "export": AUDITOR,
        "plan": ADMIN,
    }
    conflict_actions = frozenset({"create", "partial_update", "destroy", "retry"})

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The export answers a file whatever the Accept header; its errors are JSON.
        if self.action == "export":
            renderer = JSONRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    def get_queryset(self) -> QuerySet:
        # What AccessGroupOut reads is the group's configuration and its links' statuses.
        queryset = configs_queryset(AccessGroup.objects.order_by("name", "id")).annotate(
            may_request=ExpressionWrapper(
                Q(archived_at__isnull=True, requestable=True) & may_request(self.request.user),
                output_field=BooleanField(),
            )
        )
        if self.action == "list":
            if query_choice(self.request, "may_request", BOOLEAN_CHOICES) == "true":
                queryset = queryset.filter(may_request=True)
            archived = query_choice(self.request, "archived", ARCHIVED_CHOICES, default="false")
            if archived == "false":
                queryset = queryset.filter(archived_at__isnull=True)
            elif archived == "true":
                queryset = queryset.filter(archived_at__isnull=False)
            queryset = filter_provisioning(self.request, queryset)
        return queryset

    @extend_schema(
        summary="Create an access group (admin)",
        request=AccessGroupIn,
        responses={202: group_or_proposal("Created; Identity Center is being set up.")},
    )
    def create(self, request: Request) -> Response:
        fields = self.read_input(AccessGroupIn)
        if changes.approval_required():
            return self._propose(ChangeAction.CREATE, None, fields)
        group = catalogue.access_group_create(actor=request.user, **fields)
        return self.respond(group, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Change an access group (admin); only the fields sent change, the name never",
        request=AccessGroupIn(partial=True),
        responses={
            200: OpenApiResponse(
                AccessGroupOut, description="Changed; nothing to do in Identity Center."
            ),
            202: group_or_proposal("Changed; Identity Center is being updated."),
        },
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        fields = self.read_input(AccessGroupIn, partial=True)
        if changes.approval_required():
            return self._propose(ChangeAction.UPDATE, group, fields)
        generation = group.generation
        group = catalogue.access_group_update(actor=request.user, access_group=group, **fields)
        # The service asks the sync port, which bumps the generation, only when something
        # Identity Center holds changed.
        changed_in_aws = (
            AccessGroup.objects.filter(pk=group.pk).values_list("generation", flat=True).get()
            != generation
        )
        return self.respond(
            group, status.HTTP_202_ACCEPTED if changed_in_aws else status.HTTP_200_OK
        )

    @extend_schema(
        summary="Archive an access group (admin); its Identity Center side is removed",
        request=None,
        responses={202: group_or_proposal("Archived; Identity Center is being cleaned up.")},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        if changes.approval_required():
            return self._propose(ChangeAction.ARCHIVE, self.get_object(), {})
        group = catalogue.access_group_archive(
            actor=request.user, access_group=self.get_object()
        )
        return self.respond(group, status.HTTP_202_ACCEPTED)

    def _propose(self, kind: str, group: AccessGroup | None, fields: dict[str, Any]) -> Response:
        change = changes.change_propose(
            actor=self.request.user, action=kind, access_group=group, fields=fields
        )
        return change_response(change, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Retry a failed provisioning (admin)",
        request=None,
        responses={202: AccessGroupOut},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        services.provisioning_retry(obj=group, actor=request.user)
        return self.respond(group, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The live access groups as configuration (auditors and admins)",
        description="yaml (default): the file `manage.py apply_access_groups` reads back; "
        "terraform: a terraform.tfvars.json for the aws-ia iam-identity-center module "
        "(docs/configuration-as-code.md). Read from the database only.",
        parameters=[
            choice_parameter(
                "format",
                tuple(EXPORT_FORMATS),
                "yaml (default): application/yaml; terraform: terraform.tfvars.json.",
            )
        ],
        responses={
            (200, "application/yaml"): OpenApiResponse(
                # The document the YAML holds (docs/configuration-as-code.md).
                {
                    "type": "object",
                    "required": ["version", "access_groups"],
                    "properties": {
                        "version": {"type": "integer", "enum": [1]},
                        "access_groups": {"type": "array", "items": {"type": "object"}},
                    },
                },
                description="The access groups as YAML, version 1.",
            ),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="terraform.tfvars.json."
            ),
        },
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        fmt = query_choice(request, "format", tuple(EXPORT_FORMATS), default="yaml")
        content_type, filename, write = EXPORT_FORMATS[fmt]
        response = HttpResponse(write(), content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        summary="Plan a change to an access group (admin): what it changes, the Identity "
        "Center work and who gains or loses access; nothing is saved",
        request=PlanIn,
        responses={200: PlanOut},
    )
    @action(detail=False, methods=["post"])
    def plan(self, request: Request) -> Response:
        fields = self.read_input(PlanIn, partial=True)
        pk = fields.pop("access_group", None)
        group = None
        if pk is not None:
            group = AccessGroup.objects.filter(pk=pk).first()
            if group is None:
                raise serializers.ValidationError({"access_group": ["No access group has this id."]})
        action_name = fields.pop("action", None) or ("update" if group else "create")
        if (group is None) != (action_name == "create"):
            raise serializers.ValidationError(
                {"access_group": ["Give the group to update or archive, and none to create."]}
            )
        if action_name == "create" and "name" not in fields:
            raise serializers.ValidationError({"name": ["A new access group needs a name."]})
        if action_name == "archive" and fields:
            raise serializers.ValidationError(
                {"action": ["Archiving takes no fields: " + ", ".join(sorted(fields)) + "."]}
            )
        preview = change_preview(
            actor=request.user, action=action_name, access_group=group, fields=fields
        )
        return Response(PlanOut(preview).data)
