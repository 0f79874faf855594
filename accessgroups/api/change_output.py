"""A change request as the API shows it: /api/v1/change-requests/ and, with
CHANGE_APPROVAL=required, the 202 of a write on /api/v1/access-groups/."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response

from accessgroups.models import ChangeAction, ChangeRequest


class ChangeRequestOut(serializers.ModelSerializer):
    access_group = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="null for a new group until it is approved."
    )
    access_group_name = serializers.CharField(source="group_name", read_only=True)
    # The values only, as the plan endpoint's action: one enum in the schema.
    action = serializers.ChoiceField(choices=ChangeAction.values, read_only=True)
    proposed_by = serializers.SlugRelatedField(read_only=True, slug_field="username")
    decided_by = serializers.SlugRelatedField(
        read_only=True, slug_field="username", allow_null=True
    )
    changes = serializers.DictField(
        child=serializers.DictField(),
        read_only=True,
        help_text="{field: {from, to}} for each field the change sets.",
    )
    plan = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="What provisioning will do: steps with operation, count and text.",
    )
    impact = serializers.DictField(read_only=True)
    fields = serializers.DictField(read_only=True, help_text="The proposal, as AccessGroupIn.")
    comment = serializers.CharField(read_only=True, help_text="The proposer's comment.")
    decision_comment = serializers.CharField(
        read_only=True, help_text="The decider's comment, or why it was superseded."
    )

    class Meta:
        model = ChangeRequest
        fields = [
            "id",
            "access_group",
            "access_group_name",
            "action",
            "proposed_by",
            "created_at",
            "changes",
            "plan",
            "impact",
            "fields",
            "status",
            "decided_by",
            "decided_at",
            "comment",
            "decision_comment",
        ]
        read_only_fields = fields


def change_response(change: ChangeRequest, code: int) -> Response:
    fresh = ChangeRequest.objects.select_related(
        "access_group", "proposed_by", "decided_by"
    ).get(pk=change.pk)
    return Response(ChangeRequestOut(fresh).data, status=code)
