"""Input and output shapes of the REST API, one explicit serializer per purpose.

Input serializers check types and sizes only (a string where a number belongs, a value too
long for its column); the rules (name patterns, session durations, who may do what) are
the workflow's, in accessgroups/services.py and accessgroups/configuration.py, so that the
API, the pages and the tests all meet the same checks.

Output serializers read prefetched data only; the views' querysets load everything a
page of rows needs in a fixed number of queries.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accessgroups.core.limits import HOURS_MAX, HOURS_MAX_MESSAGE, TEXT_MAX, contains_nul
from accessgroups.models import (
    AccessGroup,
    AccessGroupPolicy,
    AccessRequest,
    AccessReview,
    Account,
    AuditEvent,
    Decision,
    Membership,
    PolicyKind,
    ReviewItem,
    ReviewOnDeadline,
    User,
)


def _hours_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        max_value=HOURS_MAX,
        error_messages={"max_value": HOURS_MAX_MESSAGE},
        **kwargs,
    )


# --- users --------------------------------------------------------------------------------


class UserOut(serializers.ModelSerializer):
    display_name = serializers.CharField(source="effective_display_name", read_only=True)
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "given_name",
            "family_name",
            "display_name",
            "roles",
            "is_active",
            "identity_center_user_id",
            "provisioning_status",
            "last_error",
        ]
        read_only_fields = fields


class UserOnboardIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254)
    given_name = serializers.CharField(max_length=64)
    family_name = serializers.CharField(max_length=64)
    display_name = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default=""
    )
    roles = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, default=list
    )


# --- accounts -----------------------------------------------------------------------------


class AccountOut(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["account_id", "name", "email", "status", "source"]
        read_only_fields = fields


class AccountIn(serializers.Serializer):
    account_id = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")


class SyncOut(serializers.Serializer):
    detail = serializers.CharField()


# --- access groups ------------------------------------------------------------------------


POLICY_DOCUMENT_SCHEMA = {"type": "object", "nullable": True, "additionalProperties": True}


@extend_schema_field(POLICY_DOCUMENT_SCHEMA)
class PolicyDocumentField(serializers.JSONField):
    """An IAM policy document: any JSON on the wire, documented as an object."""


class CustomerPolicy(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    path = serializers.CharField(max_length=512, required=False, default="/")


class AccountStatusOut(serializers.Serializer):
    account_id = serializers.CharField()
    provisioning_status = serializers.CharField()
    last_error = serializers.CharField()


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
    account_status = serializers.SerializerMethodField()

    class Meta:
        model = AccessGroup
        fields = [
            "id",
            "name",
            "description",
            "accounts",
            "aws_managed_policies",
            "customer_managed_policies",
            "inline_policy",
            "session_duration",
            "approvers",
            "requestable",
            "max_duration_hours",
            "applications_note",
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
        return [link.account.account_id for link in group.current_links]

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

    @extend_schema_field(AccountStatusOut(many=True))
    def get_account_status(self, group: AccessGroup) -> list[dict[str, str]]:
        return [
            {
                "account_id": link.account.account_id,
                "provisioning_status": link.provisioning_status,
                "last_error": link.last_error,
            }
            for link in group.current_links
        ]


class AccessGroupIn(serializers.Serializer):
    """Create (all fields but ``name`` optional) or, with ``partial=True``, PATCH."""

    name = serializers.CharField(max_length=64)
    description = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)
    accounts = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    aws_managed_policies = serializers.ListField(
        child=serializers.CharField(max_length=2048), required=False
    )
    customer_managed_policies = serializers.ListField(child=CustomerPolicy(), required=False)
    inline_policy = PolicyDocumentField(required=False, allow_null=True)
    session_duration = serializers.CharField(required=False, max_length=16)
    approvers = serializers.ListField(child=serializers.CharField(max_length=150), required=False)
    requestable = serializers.BooleanField(required=False)
    max_duration_hours = _hours_field()
    applications_note = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX)

    def validate_inline_policy(self, value: Any) -> dict | None:
        # Shape only: a JSON object or null. What makes a valid policy is the workflow's.
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Give the policy document as a JSON object, or null.")
        if contains_nul(value):
            raise serializers.ValidationError("The policy document contains a NUL character.")
        return value


# --- requests and memberships -------------------------------------------------------------


class DecisionOut(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(read_only=True, slug_field="username")

    class Meta:
        model = Decision
        fields = ["decided_by", "outcome", "comment", "created_at"]
        read_only_fields = fields


class AccessRequestOut(serializers.ModelSerializer):
    """Expects requester, access_group and membership joined, decisions prefetched."""

    requester = serializers.SlugRelatedField(read_only=True, slug_field="username")
    access_group_name = serializers.CharField(source="access_group.name", read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    decisions = DecisionOut(many=True, read_only=True)

    class Meta:
        model = AccessRequest
        fields = [
            "id",
            "access_group",
            "access_group_name",
            "requester",
            "justification",
            "duration_hours",
            "status",
            "is_extension",
            "created_at",
            "expires_at",
            "decisions",
            "last_error",
        ]
        read_only_fields = fields


class AccessRequestIn(serializers.Serializer):
    access_group = serializers.PrimaryKeyRelatedField(queryset=AccessGroup.objects.all())
    justification = serializers.CharField(allow_blank=True, max_length=TEXT_MAX)
    duration_hours = _hours_field()


class CommentIn(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=TEXT_MAX)


class ApproveIn(CommentIn):
    pass


class RejectIn(CommentIn):
    pass


class CancelIn(CommentIn):
    pass


class RevokeIn(CommentIn):
    pass


class MembershipOut(serializers.ModelSerializer):
    """Expects user, access_group and granted_by joined."""

    user = serializers.SlugRelatedField(read_only=True, slug_field="username")
    access_group_name = serializers.CharField(source="access_group.name", read_only=True)
    granted_by = serializers.SlugRelatedField(read_only=True, slug_field="username")

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


class UsernameField(serializers.SlugRelatedField):
    """A user named by username. Unlike CharField, SlugRelatedField lets a NUL through to
    the query, where PostgreSQL refuses it; refuse it here, naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="username", queryset=User.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> User:
        if isinstance(data, str) and contains_nul(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)


class MembershipGrantIn(serializers.Serializer):
    user = UsernameField()
    access_group = serializers.PrimaryKeyRelatedField(queryset=AccessGroup.objects.all())
    duration_hours = _hours_field()
    justification = serializers.CharField(allow_blank=True, max_length=TEXT_MAX)


# --- access reviews -----------------------------------------------------------------------


class ReviewDecisionCounts(serializers.Serializer):
    """The reviewers' decisions; ``undecided`` includes what the deadline decided."""

    keep = serializers.IntegerField(source="keep_count")
    revoke = serializers.IntegerField(source="revoke_count")
    undecided = serializers.IntegerField(source="undecided_count")


class ReviewOutcomeCounts(serializers.Serializer):
    """What was done: ``pending`` until a reviewer or the deadline decides."""

    pending = serializers.IntegerField(source="pending_count")
    kept = serializers.IntegerField(source="kept_count")
    revoked = serializers.IntegerField(source="revoked_count")
    flagged = serializers.IntegerField(source="flagged_count")
    ended = serializers.IntegerField(source="ended_count")


class AccessReviewOut(serializers.ModelSerializer):
    """Expects accessgroups.reviews.selectors.reviews_with_counts: scope and opener joined, the
    items the reader may see counted."""

    scope = serializers.CharField(source="scope_label", read_only=True)
    account = serializers.SlugRelatedField(
        read_only=True, slug_field="account_id", allow_null=True
    )
    opened_by = serializers.SlugRelatedField(read_only=True, slug_field="username")
    item_count = serializers.IntegerField(read_only=True)
    decisions = ReviewDecisionCounts(source="*", read_only=True)
    outcomes = ReviewOutcomeCounts(source="*", read_only=True)

    class Meta:
        model = AccessReview
        fields = [
            "id",
            "scope",
            "access_group",
            "account",
            "opened_by",
            "opened_at",
            "deadline",
            "on_deadline",
            "closed_at",
            "item_count",
            "decisions",
            "outcomes",
        ]
        read_only_fields = fields


class AccessReviewOpenIn(serializers.Serializer):
    """Exactly one of ``access_group`` and ``account`` (the workflow says so, by field)."""

    access_group = serializers.PrimaryKeyRelatedField(
        queryset=AccessGroup.objects.all(), required=False, allow_null=True, default=None
    )
    account = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        default=None,
        help_text="12-digit AWS account id.",
    )
    deadline = serializers.DateTimeField(
        help_text="ISO 8601, in the future; UTC if no zone is given."
    )
    on_deadline = serializers.ChoiceField(
        choices=ReviewOnDeadline.choices,
        required=False,
        default=None,
        allow_null=True,
        help_text="What happens to items nobody decided; default: the portal's setting.",
    )

    def validate_account(self, value: str | None) -> Account | None:
        if value is None:
            return None
        account = Account.objects.filter(account_id=value).first()
        if account is None:
            raise serializers.ValidationError(f"No account {value!r} is known.")
        return account


class ReviewItemOut(serializers.ModelSerializer):
    """Expects accessgroups.reviews.selectors.review_items: membership, its user and group, and the
    reviewer joined, the group's current account links prefetched."""

    member = serializers.CharField(source="membership.user.username", read_only=True)
    access_group = serializers.IntegerField(source="membership.access_group_id", read_only=True)
    access_group_name = serializers.CharField(
        source="membership.access_group.name", read_only=True
    )
    accounts = serializers.SerializerMethodField()
    reviewer = serializers.SlugRelatedField(read_only=True, slug_field="username")

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "review",
            "membership",
            "member",
            "access_group",
            "access_group_name",
            "accounts",
            "reviewer",
            "decision",
            "decided_at",
            "comment",
            "outcome",
            "outcome_applied",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_accounts(self, item: ReviewItem) -> list[str]:
        """The accounts the group grants now, as in the CSV outcome."""
        return [link.account.account_id for link in item.membership.access_group.current_links]


class KeepIn(CommentIn):
    pass


# --- reports ------------------------------------------------------------------------------


class WhoHasAccessRow(serializers.Serializer):
    """One row of accessgroups.reports.selectors.who_has_access, times in ISO 8601 UTC."""

    username = serializers.CharField()
    email = serializers.CharField()
    access_group = serializers.CharField()
    permission_set = serializers.CharField()
    account_id = serializers.CharField()
    account_name = serializers.CharField()
    source = serializers.CharField()
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    approved_by = serializers.CharField(allow_null=True)
    justification = serializers.CharField(allow_blank=True)


class AuditEventOut(serializers.ModelSerializer):
    """Expects subject joined. ``actor`` is the username stored with the event."""

    actor = serializers.CharField(source="actor_username", read_only=True)
    subject = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)
    data = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "sequence",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "access_group",
            "subject",
            "message",
            "data",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields
