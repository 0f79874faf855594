"""Access reviews under /api/v1/access-reviews/: open one, read it, export its outcome.

The same workflow as the pages (accessgroups.reviews.services) and the same reads
(accessgroups.reviews.selectors): who reviews what, who may decide, what a revocation does
and when a review refuses are decided there, once. As on the pages, a review that exists
but is not yours to see answers 403; an unknown one 404. Its items, and the decisions on
them, are accessgroups.api.review_items.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PortalViewSet,
    boolean_parameter,
    query_choice,
)
from accessgroups.api.permissions import AUDITOR, SIGNED_IN
from accessgroups.core.limits import ACCOUNT_ID_INPUT_MAX
from accessgroups.core.validators import ACCOUNT_ID_PATTERN
from accessgroups.models import AccessGroup, AccessReview, Account, ReviewOnDeadline
from accessgroups.reports.exports import csv_response
from accessgroups.reviews import selectors as reviews
from accessgroups.reviews import services as review_services


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
    """Exactly one of ``access_group`` (live) and ``account`` (known), with someone who has
    access in it (the workflow says so, by field)."""

    schema_rules = {"account": {"pattern": ACCOUNT_ID_PATTERN}}

    access_group = serializers.PrimaryKeyRelatedField(
        queryset=AccessGroup.objects.all(), required=False, allow_null=True, default=None
    )
    account = serializers.CharField(
        max_length=ACCOUNT_ID_INPUT_MAX,
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


NOT_YOURS = "You are not a reviewer in this review."


@extend_schema_view(
    list=extend_schema(
        summary="Access reviews you may see (all for auditors and admins, else yours to review)",
        parameters=[
            boolean_parameter("open", "true: reviews not yet closed; false: closed ones.")
        ],
    ),
    retrieve=extend_schema(summary="One access review (auditors, admins, its reviewers)"),
)
class AccessReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Access reviews: a check, by a deadline, that the access in one access group or on one
    account is still wanted. Auditors and admins open them and see all; a reviewer sees the
    reviews they have items in, with the items counted as they see them (their own).
    Undecided items are revoked or flagged at the deadline, per ``on_deadline``."""

    serializer_class = AccessReviewOut
    queryset = AccessReview.objects.all()
    action_roles = {
        "list": SIGNED_IN,
        "retrieve": SIGNED_IN,
        "create": AUDITOR,
        "export": AUDITOR,
    }

    def get_queryset(self) -> QuerySet:
        if self.action == "export":
            return AccessReview.objects.select_related("access_group", "account")
        queryset = reviews.reviews_with_counts(self.request.user)
        if self.action == "list":
            wanted = query_choice(self.request, "open", BOOLEAN_CHOICES)
            if wanted is not None:
                queryset = queryset.filter(closed_at__isnull=(wanted == "true"))
        return queryset

    def get_object(self) -> AccessReview:
        try:
            return super().get_object()
        except Http404:
            if AccessReview.objects.filter(pk=self.kwargs["pk"]).exists():
                raise PermissionDenied(NOT_YOURS) from None
            raise

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The export is a file whatever the Accept header; its refusals are JSON.
        if self.action == "export":
            renderer = JSONRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="Open a review of an access group or an account (auditors, admins)",
        request=AccessReviewOpenIn,
        responses={201: AccessReviewOut},
    )
    def create(self, request: Request) -> Response:
        review = review_services.access_review_open(
            opened_by=request.user, **self.read_input(AccessReviewOpenIn)
        )
        return self.respond(review, status.HTTP_201_CREATED)

    @extend_schema(
        summary="The review's outcome as CSV, as the Reviews page exports it (auditors, admins)",
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> StreamingHttpResponse:
        review = self.get_object()
        return csv_response(
            reviews.EXPORT_HEADER, reviews.export_rows(review), f"access-review-{review.pk}.csv"
        )
