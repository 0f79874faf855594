"""Access review pages: the list, the form that opens a review, a review's items with Keep
and Revoke for their reviewer, and the outcome as CSV. The rules (who reviews what, what a
decision does) are accessgroups.reviews.services'; reads are accessgroups.reviews.selectors'."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accessgroups.core.errors import Conflict
from accessgroups.models import (
    AccessGroup,
    AccessReview,
    Account,
    ReviewDecision,
    ReviewItem,
    ReviewOnDeadline,
    User,
)
from accessgroups.reports.exports import csv_response
from accessgroups.reviews import selectors as reviews
from accessgroups.reviews import services as review_services
from accessgroups.web.common import paginate
from accessgroups.web.confirm import render_confirm
from accessgroups.web.requester_forms import CommentForm, moment_input, show_refusal


class ReviewOpenForm(forms.Form):
    access_group = forms.ModelChoiceField(
        label="Access group",
        queryset=AccessGroup.objects.live().order_by("name"),
        required=False,
        empty_label="No access group",
        help_text="Review everyone in this access group…",
    )
    account = forms.ModelChoiceField(
        label="Account",
        queryset=Account.objects.order_by("name", "account_id"),
        required=False,
        empty_label="No account",
        help_text="…or everyone who reaches this account (choose one of the two).",
    )
    deadline = forms.DateTimeField(
        label="Deadline (UTC)",
        widget=moment_input(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    on_deadline = forms.ChoiceField(
        label="At the deadline",
        choices=ReviewOnDeadline.choices,
        # Flagging is the default: revoking what nobody looked at has to be chosen.
        initial=ReviewOnDeadline.FLAG,
        help_text="What happens to access nobody reviewed by then.",
    )

    def clean(self) -> dict:
        data = super().clean()
        if bool(data.get("access_group")) == bool(data.get("account")):
            raise ValidationError("Choose an access group or an account, not both.")
        return data


def _require_auditor(user: User) -> None:
    if not user.can_audit:
        raise PermissionDenied("Only auditors and admins can open and export access reviews.")


@require_GET
@login_required
def review_list(request: HttpRequest) -> HttpResponse:
    if not reviews.may_see_reviews(request.user):
        raise PermissionDenied("You have no access reviews to see.")
    page = paginate(request, reviews.reviews_visible_to(request.user))
    return render(request, "accessgroups/reviews/list.html", {"reviews_page": page})


@require_http_methods(["GET", "POST"])
@login_required
def review_open(request: HttpRequest) -> HttpResponse:
    _require_auditor(request.user)
    if request.method == "GET":
        form = ReviewOpenForm(initial={"on_deadline": review_services.default_on_deadline()})
        return render(request, "accessgroups/reviews/open.html", {"form": form})
    form = ReviewOpenForm(request.POST)
    if form.is_valid():
        try:
            review = review_services.access_review_open(
                opened_by=request.user,
                deadline=form.cleaned_data["deadline"],
                access_group=form.cleaned_data["access_group"],
                account=form.cleaned_data["account"],
                on_deadline=form.cleaned_data["on_deadline"],
            )
        except ValidationError as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, f"Review of {review.scope_label} opened.")
            return redirect("web:review-detail", pk=review.pk)
    return render(request, "accessgroups/reviews/open.html", {"form": form}, status=400)


def _render_detail(
    request: HttpRequest,
    review: AccessReview,
    failed: tuple[int, CommentForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    page = paginate(request, reviews.review_items(review, request.user))
    # Past the deadline the close task may not have run yet; the buttons go at the deadline.
    deciding = review.is_open and review.deadline > timezone.now()
    for item in page.object_list:
        item.may_decide = deciding and item.is_pending and item.reviewer_id == request.user.pk
        if item.may_decide:
            item.comment_form = (
                failed[1]
                if failed is not None and failed[0] == item.pk
                else CommentForm(prefix=f"i{item.pk}")
            )
    return render(
        request,
        "accessgroups/reviews/detail.html",
        {"review": review, "items_page": page, "may_export": request.user.can_audit},
        status=status,
    )


def _visible_review(request: HttpRequest, pk: int) -> AccessReview:
    return get_object_or_404(
        AccessReview.objects.select_related("access_group", "account", "opened_by"), pk=pk
    )


@require_GET
@login_required
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = _visible_review(request, pk)
    if not reviews.may_see_review(request.user, review):
        raise PermissionDenied("You are not a reviewer in this review.")
    return _render_detail(request, review)


def _decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    item = get_object_or_404(ReviewItem.objects.select_related("review"), pk=pk)
    if item.reviewer_id != request.user.pk:
        # Checked here too so that a stranger's bad comment cannot show them the page.
        raise PermissionDenied("Only this item's reviewer can decide it.")
    review = _visible_review(request, item.review_id)
    form = CommentForm(request.POST, prefix=f"i{pk}")
    if not form.is_valid():
        return _render_detail(request, review, failed=(pk, form), status=400)
    try:
        review_services.review_item_decide(
            item=item,
            reviewer=request.user,
            decision=decision,
            comment=form.cleaned_data["comment"],
        )
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        item = ReviewItem.objects.select_related(
            "membership__user", "membership__access_group"
        ).get(pk=pk)
        verb = "kept" if decision == ReviewDecision.KEEP else "revoked"
        messages.success(
            request,
            f"You {verb} {item.membership.user.username}'s access to {item.membership.access_group.name}.",
        )
    return redirect("web:review-detail", pk=review.pk)


@require_POST
@login_required
def review_item_keep(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, ReviewDecision.KEEP)


@require_http_methods(["GET", "POST"])
@login_required
def review_item_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm, with a comment; POST revokes."""
    if request.method == "POST":
        return _decide(request, pk, ReviewDecision.REVOKE)
    item = get_object_or_404(
        ReviewItem.objects.select_related("membership__user", "membership__access_group"), pk=pk
    )
    if item.reviewer_id != request.user.pk:
        raise PermissionDenied("Only this item's reviewer can decide it.")
    review = _visible_review(request, item.review_id)
    if item.outcome:
        messages.info(request, "This item is decided already.")
        return redirect("web:review-detail", pk=review.pk)
    member = item.membership
    return render_confirm(
        request,
        title=f"Revoke {member.user.username}'s access to {member.access_group.name}",
        consequence="The review records your decision and their membership ends now.",
        button="Revoke access",
        back=reverse("web:review-detail", args=[review.pk]),
        comment_form=CommentForm(prefix=f"i{pk}"),
    )


@require_GET
@login_required
def review_export(request: HttpRequest, pk: int) -> HttpResponse:
    _require_auditor(request.user)
    review = _visible_review(request, pk)
    return csv_response(
        reviews.EXPORT_HEADER, reviews.export_rows(review), f"access-review-{review.pk}.csv"
    )
