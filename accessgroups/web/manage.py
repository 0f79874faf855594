"""Admin pages: accounts, users and access groups, in the portal.

Every change goes through accessgroups.catalogue.services (and services.provisioning_retry); this
module only turns forms into their keyword arguments and their refusals back into errors by
the field. Nothing here calls AWS: a sync, an onboarding or a group change is saved and a
worker does the Identity Center side, whose status the lists show in words.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accessgroups.access import policies, services
from accessgroups.access.selectors import removals_pending
from accessgroups.catalogue import services as catalogue
from accessgroups.catalogue.selectors import current_accounts_prefetch
from accessgroups.changes import services as changes
from accessgroups.changes.plan import plan_change
from accessgroups.core.dispatch import provisioning_backlog
from accessgroups.core.errors import Conflict
from accessgroups.identity import services as identity
from accessgroups.identity.source import is_external
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    Account,
    Membership,
    ProvisioningStatus,
    User,
)
from accessgroups.organizations.selectors import organizations_sync_status
from accessgroups.web.changes import PROPOSED_MESSAGE
from accessgroups.web.common import paginate, query_text
from accessgroups.web.confirm import render_confirm
from accessgroups.web import plans
from accessgroups.web.manage_forms import AccessGroupForm, AccountForm, OnboardForm
from accessgroups.web.requester_forms import show_refusal

MANAGE_PAGE_SIZE = 50


def require_admin(user: User) -> None:
    # Checked before anything is read or written: a refused POST changes nothing.
    if not user.is_admin:
        raise PermissionDenied("Only admins can open the admin pages.")


# --- accounts ---------------------------------------------------------------------------------


def _render_accounts(request: HttpRequest, form: AccountForm, status: int = 200) -> HttpResponse:
    accounts = Account.objects.annotate(
        group_count=Count(
            "group_links",
            filter=Q(
                group_links__valid_to__isnull=True,
                group_links__access_group__archived_at__isnull=True,
            ),
        )
    ).order_by("name", "account_id")
    return render(
        request,
        "accessgroups/manage/accounts.html",
        {
            "form": form,
            "page": paginate(request, accounts, per_page=MANAGE_PAGE_SIZE),
            **organizations_sync_status(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
def accounts(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    if request.method == "GET":
        return _render_accounts(request, AccountForm())
    form = AccountForm(request.POST)
    if form.is_valid():
        try:
            account = catalogue.account_create(actor=request.user, **form.cleaned_data)
        except (ValidationError, Conflict) as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, f"Account {account.name} ({account.account_id}) added.")
            return redirect("web:manage-accounts")
    return _render_accounts(request, form, status=400)


@require_POST
@login_required
def accounts_sync(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    catalogue.accounts_sync(actor=request.user)
    messages.success(
        request,
        "A sync from AWS Organizations was asked for.",
    )
    return redirect("web:manage-accounts")


# --- users ------------------------------------------------------------------------------------


def _render_users(request: HttpRequest, form: OnboardForm, status: int = 200) -> HttpResponse:
    search = query_text(request, "q")
    users = User.objects.order_by("username")
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(email__icontains=search)
            | Q(display_name__icontains=search)
        )
    return render(
        request,
        "accessgroups/manage/users.html",
        {
            "form": form,
            "search": search,
            "page": paginate(request, users, per_page=MANAGE_PAGE_SIZE),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@login_required
def users(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    if request.method == "GET":
        return _render_users(request, OnboardForm())
    form = OnboardForm(request.POST)
    if form.is_valid():
        try:
            user = identity.user_onboard(actor=request.user, **form.cleaned_data)
        except (ValidationError, Conflict) as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(
                request,
                f"{user.username} is being linked to their Identity Center user."
                if is_external()
                else f"{user.username} is being onboarded into Identity Center.",
            )
            return redirect("web:manage-users")
    return _render_users(request, form, status=400)


@require_http_methods(["GET", "POST"])
@login_required
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST deactivates."""
    require_admin(request.user)
    user = get_object_or_404(User, pk=pk)
    if request.method == "GET":
        if not user.is_active or user.pk == request.user.pk:
            messages.info(request, f"{user.username} cannot be deactivated from here.")
            return redirect("web:manage-users")
        return render_confirm(
            request,
            title=f"Deactivate {user.username}",
            consequence="They can no longer sign in, their open requests are cancelled and all "
            "their access is removed from Identity Center.",
            button="Deactivate user",
            back=reverse("web:manage-users"),
            facts=[("Email", user.email)],
        )
    try:
        identity.user_deactivate(user=user, actor=request.user)
    except (ValidationError, Conflict) as refusal:
        messages.error(request, " ".join(_messages_of(refusal)))
    else:
        messages.success(request, f"{user.username} is deactivated; their access is being removed.")
        short = [group.name for group, _ in policies.groups_short_of(user)]
        if short:
            messages.warning(
                request,
                f"{', '.join(short)} now {'has' if len(short) == 1 else 'have'} fewer possible "
                "approvers than approvals required: until you name more approvers or require "
                "fewer, only an admin can complete their requests.",
            )
    return redirect("web:manage-users")


def _messages_of(refusal: ValidationError | Conflict) -> list[str]:
    return [refusal.message] if isinstance(refusal, Conflict) else refusal.messages


def _retry(request: HttpRequest, obj: User | AccessGroup | Membership) -> None:
    try:
        services.provisioning_retry(obj=obj, actor=request.user)
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Provisioning of {obj} will be tried again.")


@require_POST
@login_required
def user_retry(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    _retry(request, get_object_or_404(User, pk=pk))
    return redirect("web:manage-users")


# --- access groups ----------------------------------------------------------------------------


@require_GET
@login_required
def groups(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    show = request.GET.get("show", "")
    listed = AccessGroup.objects.all() if show == "all" else AccessGroup.objects.live()
    listed = (
        listed.prefetch_related(
            current_accounts_prefetch(),
            Prefetch(
                "approvers", queryset=User.objects.only("id", "username").order_by("username")
            ),
            "approver_groups",
        )
        .annotate(
            failed_links=Count(
                "account_links",
                filter=Q(
                    account_links__valid_to__isnull=True,
                    account_links__provisioning_status=ProvisioningStatus.FAILED,
                ),
            )
        )
        .order_by("name", "id")
    )
    return render(
        request,
        "accessgroups/manage/groups.html",
        {"page": paginate(request, listed, per_page=MANAGE_PAGE_SIZE), "show": show},
    )


def _group(pk: int) -> AccessGroup:
    return get_object_or_404(AccessGroup, pk=pk)


@require_GET
@login_required
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    group = _group(pk)
    # Current links, and links being removed (ended but not yet gone from Identity Center).
    links = (
        AccessGroupAccount.objects.filter(access_group=group)
        .filter(Q(valid_to__isnull=True) | ~Q(provisioning_status=ProvisioningStatus.IN_SYNC))
        .select_related("account")
        .order_by("account__name", "account__account_id", "id")
    )
    return render(
        request,
        "accessgroups/manage/group_detail.html",
        {
            "group": group,
            "links_page": paginate(request, links, per_page=MANAGE_PAGE_SIZE),
            "policies": list(group.current_policies().order_by("kind", "id")),
            "approvers": list(group.approvers.order_by("username")),
            "quorum_short": None if group.is_archived else policies.quorum_shortfall(group),
        },
    )


def _group_form_valid(form: AccessGroupForm) -> bool:
    """``form.is_valid()``, and when it is not, the service's own checks of the fields the
    form accepted, so one submit shows every field's error (the cross-field rules still
    wait for a valid form)."""
    if form.is_valid():
        return True
    try:
        catalogue.access_group_fields_check(form.service_fields())
    except ValidationError as refusal:
        show_refusal(form, refusal)
    return False


def _proposed(request: HttpRequest, change) -> HttpResponse:
    """Four eyes (CHANGE_APPROVAL=required): the change request's page, with what happened."""
    messages.success(request, PROPOSED_MESSAGE)
    return redirect("web:manage-change-request", pk=change.pk)


@require_http_methods(["GET", "POST"])
@login_required
def group_create(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    form = AccessGroupForm(request.POST or None)
    context: dict = {"form": form, "group": None, "four_eyes": changes.approval_required()}
    if request.method == "POST" and _group_form_valid(form):
        fields = form.service_fields()
        try:
            if plans.needs_review(request, fields):
                context.update(
                    plans.review(actor=request.user, form=form, fields=fields, access_group=None)
                )
                return render(request, "accessgroups/manage/group_form.html", context)
            if changes.approval_required():
                return _proposed(
                    request, changes.change_propose(actor=request.user, action="create", fields=fields)
                )
            group = catalogue.access_group_create(actor=request.user, **fields)
        except (ValidationError, Conflict) as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(
                request,
                f"Access group {group.name} created; a worker sets it up in Identity Center.",
            )
            return redirect("web:manage-group-detail", pk=group.pk)
    return render(
        request,
        "accessgroups/manage/group_form.html",
        context,
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    group = _group(pk)
    if group.is_archived:
        messages.error(request, "This access group has been archived; it cannot be changed.")
        return redirect("web:manage-group-detail", pk=group.pk)
    form = AccessGroupForm(request.POST or None, access_group=group)
    context: dict = {"form": form, "group": group, "four_eyes": changes.approval_required()}
    if request.method == "POST" and _group_form_valid(form):
        fields = form.service_fields()
        try:
            if plans.needs_review(request, fields):
                context.update(
                    plans.review(actor=request.user, form=form, fields=fields, access_group=group)
                )
                return render(request, "accessgroups/manage/group_form.html", context)
            if changes.approval_required():
                return _proposed(
                    request,
                    changes.change_propose(
                        actor=request.user, action="update", access_group=group, fields=fields
                    ),
                )
            catalogue.access_group_update(actor=request.user, access_group=group, **fields)
        except (ValidationError, Conflict) as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, f"Access group {group.name} saved.")
            return redirect("web:manage-group-detail", pk=group.pk)
    return render(
        request,
        "accessgroups/manage/group_form.html",
        context,
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def group_archive(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    group = _group(pk)
    if request.method == "GET":
        counts = {
            "open_requests": group.requests.open().count(),
            "memberships": group.memberships.active().count(),
            "preview": None if group.is_archived else plan_change(group, None),
        }
        return render(
            request,
            "accessgroups/manage/group_archive.html",
            {"group": group, "four_eyes": changes.approval_required(), **counts},
        )
    if changes.approval_required():
        try:
            change = changes.change_propose(actor=request.user, action="archive", access_group=group)
        except (ValidationError, Conflict) as refusal:
            messages.error(request, " ".join(getattr(refusal, "messages", [str(refusal)])))
            return redirect("web:manage-group-detail", pk=group.pk)
        return _proposed(request, change)
    try:
        catalogue.access_group_archive(actor=request.user, access_group=group)
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"Access group {group.name} archived; a worker removes it from Identity Center.",
        )
    return redirect("web:manage-groups")


@require_POST
@login_required
def group_retry(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    group = _group(pk)
    _retry(request, group)
    return redirect("web:manage-group-detail", pk=group.pk)


# --- provisioning -----------------------------------------------------------------------------


@require_GET
@login_required
def provisioning(request: HttpRequest) -> HttpResponse:
    """What the workers owe Identity Center: removals not confirmed, failures, the backlog."""
    require_admin(request.user)
    removals = (
        removals_pending()
        .select_related("user", "access_group")
        .only(
            "pk", "ended_at", "end_reason", "provisioning_status", "last_error",
            "removal_alerted_at", "user__username", "access_group__name",
        )
        .order_by("ended_at", "pk")
    )
    failed = (
        Membership.objects.filter(provisioning_status=ProvisioningStatus.FAILED)
        .select_related("user", "access_group")
        .only("pk", "last_error", "granted_at", "user__username", "access_group__name")
        .order_by("-granted_at", "-pk")[:MANAGE_PAGE_SIZE]
    )
    return render(
        request,
        "accessgroups/manage/provisioning.html",
        {
            "backlog": provisioning_backlog(),
            "page": paginate(request, removals, per_page=MANAGE_PAGE_SIZE),
            "failed": failed,
            "alert_minutes": settings.REMOVAL_ALERT_MINUTES,
            **organizations_sync_status(),
        },
    )


@require_POST
@login_required
def membership_retry(request: HttpRequest, pk: int) -> HttpResponse:
    require_admin(request.user)
    _retry(request, get_object_or_404(Membership, pk=pk))
    return redirect("web:manage-provisioning")
