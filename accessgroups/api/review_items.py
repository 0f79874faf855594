"""The items of an access review under /api/v1/access-reviews/{review_pk}/items/: read
them, keep or revoke one.

Who may decide an item, and what a revocation does, are accessgroups.reviews.services';
a revocation ends the membership through the same workflow as any other.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PortalViewSet,
    boolean_parameter,
    query_choice,
)
from accessgroups.api.fields import CommentIn, RevokeIn
from accessgroups.api.permissions import SIGNED_IN
from accessgroups.api.reviews import NOT_YOURS
from accessgroups.models import AccessReview, ReviewDecision, ReviewItem, ReviewOutcome
from accessgroups.reviews import selectors as reviews
from accessgroups.reviews import services as review_services


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
    # Declared, not derived: a read-only model field would promise one of the choices.
    outcome = serializers.ChoiceField(
        choices=ReviewOutcome.choices,
        allow_blank=True,
        read_only=True,
        help_text='What was done; "" until the reviewer or the deadline decides.',
    )

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


REVIEW_PARAMETER = OpenApiParameter(
    "review_pk",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.PATH,
    description="The access review's id.",
)
DECIDED = {
    200: OpenApiResponse(ReviewItemOut, description="Decided; nothing to do in Identity Center."),
    202: OpenApiResponse(
        ReviewItemOut, description="Revoked; the access is being removed from Identity Center."
    ),
}


@extend_schema_view(
    list=extend_schema(
        summary="A review's items: all for auditors and admins, a reviewer's own otherwise",
        parameters=[
            REVIEW_PARAMETER,
            boolean_parameter("pending", "true: items nobody decided yet; false: decided ones."),
        ],
    ),
    keep=extend_schema(
        summary="Keep: the access stays (the item's reviewer only)",
        parameters=[REVIEW_PARAMETER],
        request=KeepIn,
        responses=DECIDED,
    ),
    revoke=extend_schema(
        summary="Revoke: the access ends like any revocation (the item's reviewer only)",
        parameters=[REVIEW_PARAMETER],
        request=RevokeIn,
        responses=DECIDED,
    ),
)
class AccessReviewItemViewSet(mixins.ListModelMixin, PortalViewSet):
    """One item per membership under review, with its reviewer and what became of it. Only
    the item's reviewer keeps or revokes it, never their own access, once, while the review
    is open and before its deadline; a revoke ends the membership through the same workflow
    as any revocation (answer 202: Identity Center is being updated)."""

    serializer_class = ReviewItemOut
    queryset = ReviewItem.objects.all()
    action_roles = {"list": SIGNED_IN, "keep": SIGNED_IN, "revoke": SIGNED_IN}
    conflict_actions = frozenset({"keep", "revoke"})

    def parent_review(self) -> AccessReview:
        if not hasattr(self, "_review"):
            self._review = get_object_or_404(AccessReview, pk=self.kwargs["review_pk"])
        return self._review

    def get_queryset(self) -> QuerySet:
        review = self.parent_review()
        if self.action != "list":
            # Every item of the review: the workflow answers who may decide it (403), so
            # the member, an auditor or another approver hear why, as on the pages.
            return reviews.review_items(review, None)
        if not reviews.may_see_review(self.request.user, review):
            raise PermissionDenied(NOT_YOURS)
        queryset = reviews.review_items(review, self.request.user)
        pending = query_choice(self.request, "pending", BOOLEAN_CHOICES)
        if pending == "true":
            queryset = queryset.filter(outcome="")
        elif pending == "false":
            queryset = queryset.exclude(outcome="")
        return queryset

    def _decide(self, decision: str, body: type[serializers.Serializer]) -> Response:
        comment = self.read_input(body)["comment"]
        item = review_services.review_item_decide(
            item=self.get_object(), reviewer=self.request.user, decision=decision, comment=comment
        )
        revoking = item.outcome == ReviewOutcome.REVOKED
        return self.respond(item, status.HTTP_202_ACCEPTED if revoking else status.HTTP_200_OK)

    @action(detail=True, methods=["post"])
    def keep(self, request: Request, review_pk: str, pk: str) -> Response:
        return self._decide(ReviewDecision.KEEP, KeepIn)

    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, review_pk: str, pk: str) -> Response:
        return self._decide(ReviewDecision.REVOKE, RevokeIn)
