"""Access reviews under /api/v1/: open one, read it, decide its items, export its outcome.

The same workflow as the pages (accessgroups/review_services.py) and the same reads
(accessgroups/reviews.py): who reviews what, who may decide, what a revocation does and
when a review refuses are decided there, once. As on the pages, a review that exists but
is not yours to see answers 403; an unknown one 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api import serializers as s
from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PortalViewSet,
    boolean_parameter,
    query_choice,
)
from accessgroups.api.permissions import AUDITOR, SIGNED_IN
from accessgroups.models import AccessReview, ReviewDecision, ReviewItem, ReviewOutcome
from accessgroups.reports.exports import csv_response
from accessgroups.reviews import selectors as reviews
from accessgroups.reviews import services as review_services

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

    serializer_class = s.AccessReviewOut
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
        request=s.AccessReviewOpenIn,
        responses={201: s.AccessReviewOut},
    )
    def create(self, request: Request) -> Response:
        review = review_services.access_review_open(
            opened_by=request.user, **self.read_input(s.AccessReviewOpenIn)
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


REVIEW_PARAMETER = OpenApiParameter(
    "review_pk", int, OpenApiParameter.PATH, description="The access review's id."
)
DECIDED = {
    200: OpenApiResponse(s.ReviewItemOut, description="Decided; nothing to do in Identity Center."),
    202: OpenApiResponse(
        s.ReviewItemOut, description="Revoked; the access is being removed from Identity Center."
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
        request=s.KeepIn,
        responses=DECIDED,
    ),
    revoke=extend_schema(
        summary="Revoke: the access ends like any revocation (the item's reviewer only)",
        parameters=[REVIEW_PARAMETER],
        request=s.RevokeIn,
        responses=DECIDED,
    ),
)
class AccessReviewItemViewSet(mixins.ListModelMixin, PortalViewSet):
    """One item per membership under review, with its reviewer and what became of it. Only
    the item's reviewer keeps or revokes it, never their own access, once, while the review
    is open and before its deadline; a revoke ends the membership through the same workflow
    as any revocation (answer 202: Identity Center is being updated)."""

    serializer_class = s.ReviewItemOut
    queryset = ReviewItem.objects.all()
    action_roles = {"list": SIGNED_IN, "keep": SIGNED_IN, "revoke": SIGNED_IN}

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
        return self._decide(ReviewDecision.KEEP, s.KeepIn)

    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, review_pk: str, pk: str) -> Response:
        return self._decide(ReviewDecision.REVOKE, s.RevokeIn)
