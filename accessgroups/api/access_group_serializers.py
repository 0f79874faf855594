"""The serializers of /api/v1/access-groups/: a group as the API answers and takes it, and
the plan of a proposed change (accessgroups.api.access_groups holds the views)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accessgroups.api.fields import USERNAME_MAX, column_max, hours_field
from accessgroups.catalogue.risk import suggested_risk
from accessgroups.changes.preview import ACTIONS
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
    IdentityCenterGroup,
    PolicyKind,
    Risk,
)
from accessgroups.organizations.services import OU_ID_PATTERN

IC_GROUP_NAME_MAX = column_max(IdentityCenterGroup, "display_name")
POLICY_DOCUMENT_SCHEMA = {"type": "object", "nullable": True, "additionalProperties": True}


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
