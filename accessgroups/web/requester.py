"""Requester pages: the catalogue, the request form, My requests and My access.

Views only read through querysets and write through accessgroups.access.services; every list is
paginated and costs the same number of queries whatever its length (related rows come
from select_related / prefetch_related, never from a query per row).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accessgroups.access import services
from accessgroups.catalogue.selectors import LABELS_ONLY, current_accounts_prefetch
from accessgroups.core import compiled
from accessgroups.core.errors import Conflict
from accessgroups.core.roles import eligibility_refusal
from accessgroups.identity.source import NOT_YET_PROVISIONED, waits_for_identity_provider
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    Decision,
    DecisionOutcome,
    Membership,
    RequestStatus,
    User,
)
from accessgroups.web.break_glass import request_sent_message
from accessgroups.web.cards import attach_cards
from accessgroups.web.choices import account_options
from accessgroups.web.common import model_fields, paginate, paginate_compiled, query_text
from accessgroups.web.confirm import render_confirm
from accessgroups.web.requester_forms import AccessRequestForm, show_refusal

PAGE_SIZE = 20
CATALOGUE_PAGE_SIZE = 24


# --- catalogue ------------------------------------------------------------------------------


def _requestable(limited: str, identity_center_user_id: str = "") -> QuerySet:
    """The groups a person with this Identity Center id (or none) may ask for, in the
    catalogue's order; ``limited`` "yes" keeps those with a maximum duration, "no" those
    without."""
    user = User(identity_center_user_id=identity_center_user_id)
    groups = AccessGroup.objects.requestable_by(user)
    if limited == "yes":
        groups = groups.filter(max_duration_hours__isnull=False)
    elif limited == "no":
        groups = groups.filter(max_duration_hours__isnull=True)
    return groups.order_by("name", "id")


def _open_groups(requester_id: int) -> QuerySet:
    return (
        AccessRequest.objects.open()
        .filter(requester_id=requester_id)
        .values_list("access_group_id")
    )


def _held(user_id: int, *group_ids: int) -> QuerySet[Membership]:
    return (
        Membership.objects.active()
        .filter(user_id=user_id, access_group__in=group_ids)
        .only("access_group_id", "activated_at", "expires_at", "duration_hours")
    )


@require_GET
@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = query_text(request, "q")
    account_id = query_text(request, "account")
    limited = request.GET.get("limited", "")
    shape = limited if limited in ("yes", "no") else ""
    # Who may ask for a group depends on their Identity Center groups alone: two shapes,
    # with an Identity Center id and without.
    values = (user.identity_center_user_id,) if user.identity_center_user_id else ()
    if search or account_id:
        groups = _requestable(shape, *values)
        if search:
            groups = groups.filter(Q(name__icontains=search) | Q(description__icontains=search))
        if account_id:
            groups = groups.filter(
                account_links__account__account_id=account_id,
                account_links__valid_to__isnull=True,
            ).distinct()
        page = paginate(request, groups, per_page=CATALOGUE_PAGE_SIZE, count_with_rows=True)
    else:
        # The catalogue as most people open it: its SQL built once per process.
        page = paginate_compiled(
            request,
            ("catalogue", shape, len(values)),
            partial(_requestable, shape),
            values,
            per_page=CATALOGUE_PAGE_SIZE,
        )
    open_groups = {row[0] for row in compiled.rows("open groups", _open_groups, (user.pk,))}
    # What this user already holds: a request for it extends it rather than adding one.
    shown = [g.pk for g in page.object_list]
    held = {}
    if shown:
        found = compiled.instances(("held", len(shown)), _held, (user.pk, *shown))
        held = {m.access_group_id: m for m in found}
    for group in page.object_list:
        group.held = held.get(group.pk)
    # What each card grants, the same for every reader: kept a minute (accessgroups.web.cards).
    attach_cards(page.object_list)
    return render(
        request,
        "accessgroups/requests/catalogue.html",
        {
            "page": page,
            "open_groups": open_groups,
            "account_options": account_options(account_id),
            "search": search,
            "account_filter": account_id,
            "limited": limited,
        },
    )


# --- the request form -----------------------------------------------------------------------


def _holds_for_good(user, group: AccessGroup) -> bool:
    """Active access with no expiry: a request for it would change nothing."""
    return (
        Membership.objects.active()
        .filter(user=user, access_group=group, expires_at__isnull=True, duration_hours__isnull=True)
        .exists()
    )


@require_http_methods(["GET", "POST"])
@login_required
def request_create(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(
        # The form shows the group's accounts only (_group_grants.html without policies).
        AccessGroup.objects.requestable().prefetch_related(
            current_accounts_prefetch(only=LABELS_ONLY)
        ),
        pk=group_id,
    )
    refusal = eligibility_refusal(request.user, group)
    if refusal:
        raise PermissionDenied(refusal)
    if request.method == "GET" and _holds_for_good(request.user, group):
        messages.info(
            request, f"You already have {group.name}, with no expiry: there is nothing to ask for."
        )
        return redirect("web:catalogue")
    form = AccessRequestForm(request.POST or None, access_group=group)
    if request.method == "POST" and form.is_valid():
        try:
            services.access_request_create(
                requester=request.user,
                access_group=group,
                justification=form.cleaned_data["justification"],
                duration_hours=form.cleaned_data["duration_hours"],
                break_glass=form.cleaned_data.get("break_glass", False),
                starts_at=form.cleaned_data.get("starts_at"),
            )
        except (ValidationError, Conflict) as refusal:
            show_refusal(form, refusal)
        else:
            break_glass = form.cleaned_data.get("break_glass", False)
            messages.success(request, request_sent_message(group, break_glass))
            return redirect("web:my-requests")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "accessgroups/requests/form.html", {"group": group, "form": form}, status=status
    )


# --- My requests ----------------------------------------------------------------------------


# What a requester reads while their access waits for their identity provider
# (IDENTITY_SOURCE=external) to create their Identity Center user.
WAITING_FOR_IDP = (
    f"Waiting for your identity provider: your user is {NOT_YET_PROVISIONED} in AWS IAM "
    "Identity Center. Your access is set up automatically once it is; if this lasts, ask "
    "your identity provider's administrator to assign you to the AWS application."
)


TIMED_OUT = "Timed out: nobody decided in time. You may ask again."
STARTS_LATER = "Set up in Identity Center then; you may cancel until it starts."


@dataclass
class Step:
    """One line of a request's timeline. ``state`` is done, current, failed or ended."""

    label: str
    state: str
    when: datetime | None = None
    detail: str = ""


def timeline(access_request: AccessRequest) -> list[Step]:
    """What happened to a request so far, and what it waits for, in words."""
    r = access_request
    steps = [Step("Submitted", "done", r.created_at, r.justification)]
    decisions = list(r.decisions.all())  # prefetched
    if r.break_glass:
        reviewed = "An approver reviews it afterwards."
        steps.append(Step("Granted at once: break-glass", "done", r.created_at, reviewed))
    elif not decisions:
        if r.status == RequestStatus.PENDING:
            steps.append(Step("Waiting for an approver", "current"))
        elif r.status == RequestStatus.CANCELLED:
            steps.append(Step("Cancelled", "ended", r.updated_at))
        elif r.status == RequestStatus.TIMED_OUT:
            steps.append(Step(TIMED_OUT, "ended", r.updated_at))
        return steps
    for decision in decisions:
        if decision.outcome == DecisionOutcome.AUTO:
            label = "Approved automatically by the portal"
        else:
            verb = "Rejected" if decision.outcome == DecisionOutcome.REJECT else "Approved"
            label = f"{verb} by {decision.decided_by.username}"
        state = "failed" if decision.outcome == DecisionOutcome.REJECT else "done"
        steps.append(Step(label, state, decision.created_at, decision.comment))
        if decision.outcome == DecisionOutcome.REJECT:
            return steps
    if r.status == RequestStatus.TIMED_OUT:
        steps.append(Step(TIMED_OUT, "ended", r.updated_at))
        return steps
    if r.status == RequestStatus.PENDING:
        more = r.approvals_required - r.approvals
        steps.append(Step(f"Waiting for {more} more approval{'s' if more != 1 else ''}", "current"))
        return steps
    membership = r.membership
    waiting_to_start = (
        r.status == RequestStatus.APPROVED
        and r.starts_at is not None
        and r.starts_at > timezone.now()
    )
    if waiting_to_start:
        steps.append(
            Step(f"Starts at {r.starts_at:%Y-%m-%d %H:%M} UTC", "current", detail=STARTS_LATER)
        )
    elif r.status in (RequestStatus.APPROVED, RequestStatus.PROVISIONING):
        if membership is not None and waits_for_identity_provider(membership.last_error):
            steps.append(Step("Being set up in Identity Center", "current", detail=WAITING_FOR_IDP))
        else:
            steps.append(Step("Being set up in Identity Center", "current"))
    elif r.status == RequestStatus.FAILED:
        steps.append(Step("Setting up failed", "failed", r.updated_at, r.last_error))
    elif r.status == RequestStatus.CANCELLED:
        steps.append(Step("Cancelled", "ended", r.updated_at))
    if membership is not None and membership.activated_at is not None:
        steps.append(Step("Set up in Identity Center", "done", membership.activated_at))
        expiry = (
            f"Expires {membership.expires_at:%Y-%m-%d %H:%M} UTC"
            if membership.expires_at
            else "Does not expire"
        )
        if r.status == RequestStatus.ACTIVE:
            # Reached, not waited for: a tick, not the amber "in progress" dot.
            steps.append(Step("Active", "done", membership.activated_at, expiry))
    if membership is not None and membership.ended_at is not None:
        label = membership.get_end_reason_display() or "Ended"
        if membership.ended_by is not None:
            label = f"{label} by {membership.ended_by.username}"
        steps.append(Step(label, "ended", membership.ended_at))
    return steps


# What the list and its timelines read: the requests and their memberships whole, of the
# group its name, of the people their usernames.
_MY_REQUESTS_READ = (
    *model_fields(AccessRequest),
    "access_group__name",
    *model_fields(Membership, "membership__"),
    "membership__ended_by__username",
)
_DECISIONS_READ = (*model_fields(Decision), "decided_by__username")


def _requests_of(requester_id: int) -> QuerySet[AccessRequest]:
    return (
        AccessRequest.objects.filter(requester_id=requester_id)
        .select_related("access_group", "membership", "membership__ended_by")
        .only(*_MY_REQUESTS_READ)
        .prefetch_related(
            Prefetch(
                "decisions",
                queryset=Decision.objects.select_related("decided_by").only(*_DECISIONS_READ),
            ),
        )
    )


def _my_requests_page(request: HttpRequest) -> dict:
    page = paginate_compiled(request, "my requests", _requests_of, (request.user.pk,))
    rows = [{"request": r, "steps": timeline(r)} for r in page.object_list]
    return {
        "page": page,
        "rows": rows,
        # Poll only while something on this page can still change by itself.
        "polling": any(r.is_open for r in page.object_list),
    }


@require_GET
@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    return render(request, "accessgroups/requests/my_requests.html", _my_requests_page(request))


@require_GET
@login_required
def my_requests_fragment(request: HttpRequest) -> HttpResponse:
    """The list alone, which the page fetches every 2 s (htmx) while a request is open."""
    return render(request, "accessgroups/requests/_request_list.html", _my_requests_page(request))


@require_http_methods(["GET", "POST"])
@login_required
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST cancels."""
    access_request = get_object_or_404(
        AccessRequest.objects.select_related("access_group"), pk=pk, requester=request.user
    )
    if request.method == "GET":
        if not access_request.is_open:
            messages.info(request, "This request is not open any more.")
            return redirect("web:my-requests")
        return render_confirm(
            request,
            title=f"Cancel your request for {access_request.access_group.name}",
            consequence="Approvers no longer see it; access being set up for it is removed. "
            "You can ask again later.",
            button="Cancel request",
            back=reverse("web:my-requests"),
            facts=[("Justification", access_request.justification)],
        )
    try:
        services.access_request_cancel(access_request=access_request, user=request.user)
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request, f"Your request for {access_request.access_group.name} was cancelled."
        )
    return redirect("web:my-requests")


# --- My access ------------------------------------------------------------------------------


def my_memberships(user_id: int) -> QuerySet[Membership]:
    # The page names each group's accounts and nothing else of them.
    return (
        Membership.objects.active()
        .filter(user_id=user_id)
        .select_related("access_group")
        .prefetch_related(current_accounts_prefetch("access_group__", only=LABELS_ONLY))
        .order_by("access_group__name", "id")
    )


@require_GET
@login_required
def my_access(request: HttpRequest) -> HttpResponse:
    page = paginate_compiled(request, "my access", my_memberships, (request.user.pk,))
    for m in page.object_list:
        m.waits_for_idp = not m.activated_at and waits_for_identity_provider(m.last_error)
    return render(
        request,
        "accessgroups/requests/my_access.html",
        {"page": page, "waiting_for_idp": WAITING_FOR_IDP},
    )


@require_http_methods(["GET", "POST"])
@login_required
def my_access_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """The member gives up their own access: GET asks to confirm, POST does it."""
    membership = get_object_or_404(
        Membership.objects.active().select_related("access_group"), pk=pk, user=request.user
    )
    if request.method == "GET":
        return render_confirm(
            request,
            title=f"Give up your access to {membership.access_group.name}",
            consequence="It ends now and is removed from Identity Center; to get it back you "
            "would have to ask again.",
            button="Give up access",
            back=reverse("web:my-access"),
        )
    try:
        services.membership_revoke(
            membership=membership, revoked_by=request.user, comment="given up by the member"
        )
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request, f"Your access to {membership.access_group.name} is being removed."
        )
    return redirect("web:my-access")
