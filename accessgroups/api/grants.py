"""The read-only ``grants`` of an access request's detail: what approving it grants, in full.

Built by accessgroups.catalogue.grants.request_grants; these serializers only describe its
shape to clients and the OpenAPI schema.
"""

from __future__ import annotations

from rest_framework import serializers


def PolicyRiskField(**kwargs) -> serializers.CharField:  # noqa: N802 (reads like a field)
    """``high`` or ``normal`` (accessgroups.catalogue.risk). Text rather than an enum: the
    access group's own ``risk`` (low, normal, high) would collide with it by name in the
    schema."""
    kwargs.setdefault("help_text", '"high" or "normal".')
    return serializers.CharField(**kwargs)


class GrantAccountOut(serializers.Serializer):
    account_id = serializers.CharField()
    name = serializers.CharField()
    label = serializers.CharField(help_text='"name (account id)"')


class GrantManagedPolicyOut(serializers.Serializer):
    arn = serializers.CharField()
    name = serializers.CharField()
    risk = PolicyRiskField()


class GrantCustomerPolicyOut(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()


class GrantMembershipOut(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    granted_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    duration_hours = serializers.IntegerField(allow_null=True)


class GrantsOut(serializers.Serializer):
    accounts = GrantAccountOut(many=True)
    aws_managed_policies = GrantManagedPolicyOut(many=True)
    customer_managed_policies = GrantCustomerPolicyOut(many=True)
    inline_policy = serializers.JSONField(
        allow_null=True, help_text="The policy document, or null."
    )
    inline_policy_risk = PolicyRiskField(allow_null=True)
    session_duration = serializers.CharField(help_text="ISO 8601, e.g. PT4H.")
    session_duration_label = serializers.CharField(help_text='In words, e.g. "4 hours".')
    risk = PolicyRiskField(
        help_text='"high" when any policy is high risk (see each policy\'s risk), else "normal".'
    )
    duration_hours = serializers.IntegerField(allow_null=True, help_text="null: no expiry.")
    duration_label = serializers.CharField(help_text='In words, e.g. "4 hours" or "no expiry".')
    starts_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the access starts, if the requester asked for a delayed start; "
        "null: as soon as it is approved.",
    )
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the access this request granted ends, once known."
    )
    is_extension = serializers.BooleanField()
    current_membership = GrantMembershipOut(
        allow_null=True,
        help_text="The requester's active membership in the group now (an approval of an "
        "extension moves its expiry), or null.",
    )
