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

from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.access import services
from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PROVISIONING_FILTER,
    boolean_parameter,
    PortalViewSet,
    choice_parameter,
    filter_provisioning,
    query_choice,
)
from accessgroups.api.change_output import ChangeRequestOut, change_response
from accessgroups.api.fields import USERNAME_MAX, column_max, hours_field
from accessgroups.api.permissions import ADMIN, AUDITOR, SIGNED_IN
from accessgroups.catalogue import services as catalogue
from accessgroups.changes.preview import ACTIONS, change_preview
from accessgroups.catalogue.risk import suggested_risk
from accessgroups.catalogue.selectors import (
    BY_ACCOUNT_ID,
    current_accounts_prefetch,
    current_policies_prefetch,
)
from accessgroups.changes import services as changes
from accessgroups.changes.terraform import terraform_json
from accessgroups.changes.yaml_config import export_yaml
from accessgroups.core import validators
from accessgroups.core.limits import (
    ACCOUNT_ID_INPUT_MAX,
    GROUP_NAME_INPUT_MAX,
    TEXT_MAX,
    contains_nul,
)
from accessgroups.models import (
    APPROVALS_REQUIRED_MAX,
    AccessGroup,
    AccessGroupPolicy,
    ChangeAction,
    IdentityCenterGroup,
    OrganizationalUnit,
    PolicyKind,
    Risk,
    User,
)
from accessgroups.models.directory import may_request
from accessgroups.organizations.services import OU_ID_PATTERN

ARCHIVED_CHOICES = ("false", "true", "all")
# ?format= of the export: (content type, file name, writer).
EXPORT_FORMATS = {
    "yaml": ("application/yaml", "access-groups.yaml", export_yaml),
    "terraform": ("application/json", "terraform.tfvars.json", terraform_json),
}
IC_GROUP_NAME_MAX = column_max(IdentityCenterGroup, "display_name")
POLICY_DOCUMENT_SCHEMA = {"type": "object", "nullable": True, "additionalProperties": True}


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


@extend_schema_field(POLICY_DOCUMENT_SCHEMA)
class PolicyDocumentField(serializers.JSONField):
    """An IAM policy document: any JSON on the wire, documented as an object."""


class CustomerPolicy(serializers.Serializer):
    # The rules of accessgroups.core.validators (accessgroups.api.openapi).
    schema_rules = {
        "name": {"pattern": validators.CUSTOMER_POLICY_NAME_PATTERN},
        "path": {"pattern": validators.CUSTOMER_POLICY_PATH_PATTERN},
    }

    name = serializers.CharField(max_length=column_max(AccessGroupPolicy, "name"))
    path = serializers.CharField(
        max_length=column_max(AccessGroupPolicy, "path"), required=False, default="/"
    )


class AccountStatusOut(serializers.Serializer):
    account_id = serializers.CharField()
    provisioning_status = serializers.CharField()
    last_error = serializers.CharField()
    reason = serializers.ChoiceField(
        choices=["explicit", "ou", "both"],
        help_text="Listed in accounts, under one of organizational_units, or both.",
    )


class AccessGroupOut(serializers.ModelSerializer):
    """An access group with its *current* accounts and policies.

    Expects the view's queryset: ``current_links`` (current account links with their
    accounts) and ``current_policy_rows`` prefetched, approvers prefetched.
    """

    accounts = serializers.SerializerMethodField()
    aws_managed_policies = serializers.SerializerMethodField()
    customer_managed_policies = serializers.SerializerMethodField()
    inline_policy = serializers.SerializerMethodField()
    approvers = serializers.SlugRelatedField(many=True, read_only=True, slug_field="username")
    organizational_units = serializers.SlugRelatedField(many=True, read_only=True, slug_field="ou_id")
    approver_groups = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="display_name"
    )
    eligible_groups = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="display_name"
    )
    may_request = serializers.BooleanField(
        read_only=True,
        help_text="Whether the caller may request this group now: live, requestable, and "
        "eligible_groups empty or the caller a member of one.",
    )
    account_status = serializers.SerializerMethodField()
    suggested_risk = serializers.SerializerMethodField(
        help_text="What the portal suggests for risk from the policies: high when they grant "
        "(nearly) everything."
    )

    class Meta:
        model = AccessGroup
        fields = [
            "id",
            "name",
            "description",
            "accounts",
            "organizational_units",
            "aws_managed_policies",
            "customer_managed_policies",
            "inline_policy",
            "session_duration",
            "approvers",
            "approver_groups",
            "eligible_groups",
            "may_request",
            "requestable",
            "max_duration_hours",
            "applications_note",
            "approvals_required",
            "auto_approve",
            "break_glass",
            "risk",
            "suggested_risk",
            "provisioning_status",
            "last_error",
            "account_status",
            "archived_at",
        ]
        read_only_fields = fields

    @staticmethod
    def _policies(group: AccessGroup, kind: str) -> list[AccessGroupPolicy]:
        return [p for p in group.current_policy_rows if p.kind == kind]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_accounts(self, group: AccessGroup) -> list[str]:
        # The accounts listed explicitly; those an OU adds are in account_status.
        return [link.account.account_id for link in group.current_links if link.explicit]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_aws_managed_policies(self, group: AccessGroup) -> list[str]:
        return [p.arn for p in self._policies(group, PolicyKind.AWS_MANAGED)]

    @extend_schema_field(CustomerPolicy(many=True))
    def get_customer_managed_policies(self, group: AccessGroup) -> list[dict[str, str]]:
        return [
            {"name": p.name, "path": p.path}
            for p in self._policies(group, PolicyKind.CUSTOMER_MANAGED)
        ]

    @extend_schema_field(POLICY_DOCUMENT_SCHEMA)
    def get_inline_policy(self, group: AccessGroup) -> dict | None:
        inline = self._policies(group, PolicyKind.INLINE)
        return inline[0].document if inline else None

    @extend_schema_field(serializers.ChoiceField(choices=Risk.choices))
    def get_suggested_risk(self, group: AccessGroup) -> str:
        return suggested_risk(group)

    @extend_schema_field(AccountStatusOut(many=True))
    def get_account_status(self, group: AccessGroup) -> list[dict[str, str]]:
        return [
            {
                "account_id": link.account.account_id,
                "provisioning_status": link.provisioning_status,
                "last_error": link.last_error,
                "reason": link.reason,
            }
            for link in group.current_links
        ]


class AccessGroupIn(serializers.Serializer):
    """Create (all fields but ``name`` optional) or, with ``partial=True``, PATCH.

    Besides what the schema says: a name a live group has is refused, and a PATCH may not
    change it; ``accounts`` must be known (added or synced), ``organizational_units`` known
    from the last AWS Organizations sync and readable by it, ``approvers`` active users;
    ``approver_groups`` and ``eligible_groups`` Identity Center groups listed at the last
    refresh, other than the portal's own access groups; a requestable group needs at least
    one approver, by name or by group;
    ``session_duration`` lies from PT1H to PT12H; AWS managed and customer managed
    policies together stay within the permission set quota (20 unless raised); the inline
    policy stays within 32,768 bytes and 10,240 characters other than white space, with no
    NUL in it.
    """

    # The rules accessgroups.core.validators checks (accessgroups.api.openapi).
    schema_rules = {
        "name": {"pattern": validators.GROUP_NAME_PATTERN},
        "accounts": {
            "type": "array",
            "items": {"type": "string", "pattern": validators.ACCOUNT_ID_PATTERN},
            "uniqueItems": True,
        },
        "aws_managed_policies": {
            "type": "array",
            "items": {
                "type": "string",
                "pattern": validators.MANAGED_POLICY_ARN_PATTERN,
                "maxLength": column_max(AccessGroupPolicy, "arn"),
            },
            "uniqueItems": True,
        },
        "customer_managed_policies": {"uniqueItems": True},
        "organizational_units": {
            "type": "array",
            "items": {"type": "string", "pattern": OU_ID_PATTERN},
            "uniqueItems": True,
        },
        "inline_policy": {
            "required": ["Version", "Statement"],
            "properties": {
                "Statement": {
                    "anyOf": [
                        {"type": "object", "minProperties": 1},
                        {"type": "array", "minItems": 1},
                    ]
                }
            },
        },
        "session_duration": {"pattern": validators.SESSION_DURATION_PATTERN},
    }

    name = serializers.CharField(max_length=GROUP_NAME_INPUT_MAX)
    description = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    accounts = serializers.ListField(
        child=serializers.CharField(max_length=ACCOUNT_ID_INPUT_MAX), required=False
    )
    aws_managed_policies = serializers.ListField(
        child=serializers.CharField(max_length=column_max(AccessGroupPolicy, "arn")),
        required=False,
    )
    customer_managed_policies = serializers.ListField(child=CustomerPolicy(), required=False)
    inline_policy = PolicyDocumentField(required=False, allow_null=True)
    session_duration = serializers.CharField(
        required=False, max_length=column_max(AccessGroup, "session_duration")
    )
    approvers = serializers.ListField(
        child=serializers.CharField(max_length=USERNAME_MAX), required=False
    )
    # Every ACTIVE account under these OUs (or the root), recursively, as last synced.
    organizational_units = serializers.ListField(
        child=serializers.CharField(max_length=68), required=False
    )
    approver_groups = serializers.ListField(
        child=serializers.CharField(max_length=IC_GROUP_NAME_MAX),
        required=False,
        help_text="Names of Identity Center groups whose members approve (GET "
        "/api/v1/identity-center-groups/ lists them).",
    )
    eligible_groups = serializers.ListField(
        child=serializers.CharField(max_length=IC_GROUP_NAME_MAX),
        required=False,
        help_text="Names of Identity Center groups whose members may request; empty: everyone.",
    )
    requestable = serializers.BooleanField(required=False)
    max_duration_hours = hours_field()
    applications_note = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    approvals_required = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=APPROVALS_REQUIRED_MAX,
        help_text="Distinct approvers a request needs (1 by default); at most the group's "
        "approvers.",
    )
    auto_approve = serializers.BooleanField(
        required=False,
        help_text="The portal approves requests at once (not with a quorum or high risk).",
    )
    break_glass = serializers.BooleanField(
        required=False,
        help_text="Requesters may take access at once in an emergency, reviewed afterwards.",
    )
    risk = serializers.ChoiceField(
        choices=Risk.choices,
        required=False,
        help_text="high: an approval needs a comment. On create, defaults to suggested_risk.",
    )

    def validate_inline_policy(self, value: Any) -> dict | None:
        # Shape only: a JSON object or null. What makes a valid policy is the workflow's.
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Give the policy document as a JSON object, or null.")
        if contains_nul(value):
            raise serializers.ValidationError("The policy document contains a NUL character.")
        return value


class PlanStepOut(serializers.Serializer):
    operation = serializers.CharField(help_text="The Identity Center API operation.")
    count = serializers.IntegerField(help_text="How many calls of it.")
    text = serializers.CharField(help_text="What it does, in words.")
    items = serializers.ListField(
        child=serializers.CharField(), help_text="What it acts on: policies, accounts."
    )


class PlanOut(serializers.Serializer):
    """What saving would change, and the Identity Center work it would make."""

    action = serializers.ChoiceField(choices=ACTIONS)
    access_group = serializers.IntegerField(allow_null=True)
    changes = serializers.DictField(
        child=serializers.DictField(),
        help_text="{field: {from, to}} for each field that would change.",
    )
    plan = PlanStepOut(many=True)
    impact = serializers.DictField(
        help_text="members; accounts_added, accounts_removed (\"name (id)\"); access_gained "
        "and access_lost (members × accounts); permissions_changed; summary in words; on "
        "archive, memberships_ended and requests_cancelled."
    )


class PlanIn(AccessGroupIn):
    """A proposed body, as create or PATCH take it, and what it is for."""

    name = serializers.CharField(max_length=GROUP_NAME_INPUT_MAX, required=False)
    action = serializers.ChoiceField(
        choices=ACTIONS,
        required=False,
        help_text="create (the default without access_group), update (the default with one) "
        "or archive.",
    )
    access_group = serializers.IntegerField(
        required=False, allow_null=True, help_text="The id of the group to update or archive."
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
        queryset = AccessGroup.objects.order_by("name", "id").prefetch_related(
            current_accounts_prefetch(order_by=BY_ACCOUNT_ID),
            current_policies_prefetch(),
            Prefetch("approvers", queryset=User.objects.order_by("username")),
            Prefetch("organizational_units", queryset=OrganizationalUnit.objects.order_by("ou_id")),
            *(
                Prefetch(field, queryset=IdentityCenterGroup.objects.order_by("display_name"))
                for field in ("approver_groups", "eligible_groups")
            ),
        ).annotate(
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
