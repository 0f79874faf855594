"""Approver pages, one per list: the queue of requests this user may decide (with break-glass
access to review), the active access they may revoke, and their past decisions. Who may
decide what is the services' and querysets' rule (``AccessRequest.objects.decidable_by``,
``accessgroups.core.roles.can_decide``), not this module's."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accessgroups.access import services
from accessgroups.access.selectors import break_glass_reviews_for
from accessgroups.auth.standing import standing
from accessgroups.catalogue.grants import current_memberships
from accessgroups.catalogue.selectors import LABELS_ONLY, current_accounts_prefetch
from accessgroups.core import compiled
from accessgroups.core.errors import Conflict
from accessgroups.models import AccessGroup, AccessRequest, Decision, Membership, User
from accessgroups.models.directory import approves
from accessgroups.web.approval_cards import attach_approval_cards
from accessgroups.web.common import model_fields, paginate, paginate_compiled
from accessgroups.web.confirm import render_confirm
from accessgroups.web.requester_forms import ApproveForm, CommentForm, show_refusal


def _require_approver(request: HttpRequest) -> None:
    """Admins and the approvers of some access group see the approval pages."""
    if not standing(request).decides:
        raise PermissionDenied("Only approvers and admins can open the approval pages.")


def revocable_memberships(user: User) -> QuerySet[Membership]:
    """Active memberships of the groups this user decides for (every group for an admin)."""
    memberships = Membership.objects.active()
    if not user.is_admin:
        memberships = memberships.filter(approves(user, "access_group_id"))
    return (
        memberships.select_related("user", "access_group")
        .prefetch_related(current_accounts_prefetch("access_group__", only=LABELS_ONLY))
        .order_by("access_group__name", "user__username", "id")
    )


# A card reads of its requester the names it shows; of the request and the group, everything.
_QUEUE_READ = (
    *model_fields(AccessRequest),
    *model_fields(AccessGroup, "access_group__"),
    *(
        f"requester__{name}"
        for name in ("username", "email", "display_name", "given_name", "family_name")
    ),
)


def _decider(admin: bool, pk: int, identity_center_user_id: str = "") -> User:
    """A stand-in for the approver, with what the queue's rules read of them."""
    return User(
        pk=pk,
        is_active=True,
        is_portal_admin=admin,
        identity_center_user_id=identity_center_user_id,
    )


def _queue(admin: bool, *values: int | str) -> QuerySet[AccessRequest]:
    return (
        AccessRequest.objects.decidable_by(_decider(admin, *values))
        .select_related("requester", "access_group")
        .only(*_QUEUE_READ)
        .with_pending_approvals()  # the quorum's progress (AccessRequest.approvals)
        .order_by("created_at", "id")
    )


def _break_glass_reviews(admin: bool, pk: int) -> QuerySet[AccessRequest]:
    return break_glass_reviews_for(_decider(admin, pk))[:50]


def _render_approvals(
    request: HttpRequest, failed: tuple[int, CommentForm] | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    # The queue's SQL is built once per process for each of its shapes: an admin's or an
    # approver's, with an Identity Center id (approver groups name people by it) or without.
    admin = user.is_admin
    ic = user.identity_center_user_id
    values = (user.pk, ic) if ic else (user.pk,)
    queue_page = paginate_compiled(
        request, ("approval queue", admin, len(values)), partial(_queue, admin), values
    )
    items = list(queue_page.object_list)
    # What each card says of its request, the same for every approver: kept a minute.
    attach_approval_cards(items, current_memberships(items))
    for item in items:
        # A comment that was refused comes back with its error, by its own request; the
        # other cards show an empty box (approvals.html).
        item.comment_form = failed[1] if failed is not None and failed[0] == item.pk else None
    return render(
        request,
        "accessgroups/approvals/approvals.html",
        {
            "queue_page": queue_page,
            "break_glass_reviews": compiled.instances(
                ("break-glass reviews", admin), partial(_break_glass_reviews, admin), (user.pk,)
            ),
        },
        status=status,
    )


@require_GET
@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    """The queue: requests waiting for this user's decision, and break-glass to review."""
    _require_approver(request)
    return _render_approvals(request)


@require_GET
@login_required
def approvals_access(request: HttpRequest) -> HttpResponse:
    """Active access in the groups this user decides for, each with its Revoke."""
    _require_approver(request)
    memberships = revocable_memberships(request.user)
    return render(
        request,
        "accessgroups/approvals/access.html",
        {"memberships_page": paginate(request, memberships)},
    )


@require_GET
@login_required
def approvals_decisions(request: HttpRequest) -> HttpResponse:
    """This user's decisions, newest first, with what became of each request."""
    _require_approver(request)
    decisions = (
        Decision.objects.filter(decided_by=request.user)
        .select_related("request__access_group", "requester")
        .order_by("-created_at", "-id")
    )
    return render(
        request,
        "accessgroups/approvals/decisions.html",
        {"decisions_page": paginate(request, decisions)},
    )


def _decide(request: HttpRequest, pk: int, approve: bool) -> HttpResponse:
    _require_approver(request)
    access_request = get_object_or_404(
        AccessRequest.objects.visible_to(request.user).select_related("access_group", "requester"),
        pk=pk,
    )
    form = (ApproveForm if approve else CommentForm)(request.POST, prefix=f"r{pk}")
    if not form.is_valid():
        if "access_group_version" in form.errors:
            messages.error(
                request, "This page was out of date: check the request and decide again."
            )
        return _render_approvals(request, failed=(pk, form), status=400)
    # An approval approves the version of the group its card showed (a reload shows the new one).
    version = {"access_group_version": form.cleaned_data["access_group_version"]} if approve else {}
    action = services.access_request_approve if approve else services.access_request_reject
    try:
        # PermissionDenied (e.g. one's own request) becomes a 403 and changes nothing.
        decided = action(
            access_request=access_request,
            approver=request.user,
            comment=form.cleaned_data["comment"],
            **version,
        )
    except Conflict as refusal:
        messages.error(request, refusal.message)
    except ValidationError as refusal:
        # A high-risk group's approval without a comment: back to the card, with the reason.
        show_refusal(form, refusal)
        return _render_approvals(request, failed=(pk, form), status=400)
    else:
        verb = "approved" if approve else "rejected"
        waiting = (
            f" It needs {decided.approvals_required} approvals; others must approve too."
            if decided.status == "pending"
            else ""
        )
        messages.success(
            request,
            f"You {verb} {access_request.requester.username}'s request for "
            f"{access_request.access_group.name}.{waiting}",
        )
    return redirect("web:approvals")


@require_POST
@login_required
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approve=True)


@require_http_methods(["GET", "POST"])
@login_required
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm, with a reason for the requester; POST rejects."""
    if request.method == "POST":
        return _decide(request, pk, approve=False)
    _require_approver(request)
    access_request = get_object_or_404(
        AccessRequest.objects.visible_to(request.user).select_related("access_group", "requester"),
        pk=pk,
    )
    if not AccessRequest.objects.decidable_by(request.user).filter(pk=pk).exists():
        messages.info(request, "This request is not waiting for your decision.")
        return redirect("web:approvals")
    return render_confirm(
        request,
        title=f"Reject {access_request.requester.username}'s request for {access_request.access_group.name}",
        consequence="The requester is told, with your reason; they get no access from this request.",
        button="Reject request",
        back=f"{reverse('web:approvals')}#request-{pk}",
        facts=[("Justification", access_request.justification)],
        comment_form=CommentForm(prefix=f"r{pk}"),
        comment_label="Reason (the requester sees it)",
    )


@require_http_methods(["GET", "POST"])
@login_required
def membership_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST revokes."""
    _require_approver(request)
    membership = get_object_or_404(Membership.objects.select_related("user", "access_group"), pk=pk)
    if request.method == "GET":
        if not membership.is_active or not services.can_revoke_membership(request.user, membership):
            messages.info(request, "This access has ended already, or you cannot revoke it.")
            return redirect("web:approvals-access")
        return render_confirm(
            request,
            title=f"Revoke {membership.user.username}'s access to {membership.access_group.name}",
            consequence="Their membership ends now and Identity Center removes it within moments; "
            "they would have to ask again.",
            button="Revoke access",
            back=reverse("web:approvals-access"),
        )
    try:
        services.membership_revoke(
            membership=membership, revoked_by=request.user, comment="revoked by an approver"
        )
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"{membership.user.username}'s access to {membership.access_group.name} is being removed.",
        )
    return redirect("web:approvals-access")
