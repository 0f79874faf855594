"""The API tokens pages: one's own tokens, and (admins) everyone's and service accounts'.

Creating and revoking go through accessgroups.auth.tokens, which decides who may. A new key
is shown in the answer to the POST that made it and nowhere else: not in a redirect, a
flash message or the session (each would keep it somewhere), and these answers are never
cached.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accessgroups.auth.mfa import has_second_factor, session_passed_mfa
from accessgroups.auth.tokens import NewApiToken, api_token_create, api_token_revoke, max_days
from accessgroups.core.errors import Conflict
from accessgroups.identity.services import service_account_create
from accessgroups.models import ApiToken, User
from accessgroups.web.common import paginate
from accessgroups.web.confirm import render_confirm
from accessgroups.web.manage import require_admin
from accessgroups.web.requester_forms import show_refusal
from accessgroups.web.token_forms import ApiTokenForm, ServiceAccountForm, ServiceAccountTokenForm

PAGE_SIZE = 20


def _second_factor(request: HttpRequest) -> dict:
    """What the page says about the second factor a new token needs."""
    verified = session_passed_mfa(request)
    return {
        "mfa_verified": verified,
        "has_second_factor": verified or has_second_factor(request.user),
        # allauth's "confirm with your second factor" step records it for this session.
        "confirm_url": f"{reverse('mfa_reauthenticate')}?{urlencode({'next': request.path})}",
    }


def _create(request: HttpRequest, form, user: User) -> tuple[NewApiToken | None, int]:
    """Create the token a valid form asks for: (token, 200), or (None, 400 or 403) with the
    refusal put on the form."""
    try:
        created = api_token_create(
            actor=request.user,
            user=user,
            name=form.cleaned_data["name"],
            days=form.cleaned_data["days"],
            mfa_verified=session_passed_mfa(request),
        )
    except (ValidationError, Conflict) as refusal:
        show_refusal(form, refusal)
        return None, 400
    except PermissionDenied as refusal:
        form.add_error(None, str(refusal))
        return None, 403
    return created, 200


def _revoke(request: HttpRequest, token: ApiToken) -> None:
    try:
        api_token_revoke(actor=request.user, token=token)
    except Conflict as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Token {token.name} ({token.prefix}…) revoked.")


# --- one's own tokens ---------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    created, status = None, 200
    if request.method == "POST":
        created, status = _create(request, form, request.user) if form.is_valid() else (None, 400)
        if created is not None:
            form = ApiTokenForm()  # the next token starts from a blank form
    tokens = ApiToken.objects.filter(user=request.user).select_related("revoked_by")
    return render(
        request,
        "accessgroups/tokens/api_tokens.html",
        {
            "form": form,
            "created": created,
            "page": paginate(request, tokens, per_page=PAGE_SIZE),
            "max_days": max_days(),
            **_second_factor(request),
        },
        status=status,
    )


def _confirm_revoke(request: HttpRequest, token: ApiToken, back: str) -> HttpResponse:
    if token.revoked_at is not None:
        messages.info(request, f"Token {token.name} ({token.prefix}…) is revoked already.")
        return redirect(back)
    return render_confirm(
        request,
        title=f"Revoke the token {token.name} ({token.prefix}…)",
        consequence="Scripts that use it are refused from now on; a revoked token cannot be used again.",
        button="Revoke token",
        back=reverse(back),
        facts=[("Owner", token.user.username)],
    )


@require_http_methods(["GET", "POST"])
@login_required
def api_token_revoke_own(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST revokes."""
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk, user=request.user)
    if request.method == "GET":
        return _confirm_revoke(request, token, "web:api-tokens")
    _revoke(request, token)
    return redirect("web:api-tokens")


# --- admins: everyone's tokens, service accounts ------------------------------------------------


def _render_manage(
    request: HttpRequest,
    *,
    token_form: ServiceAccountTokenForm | None = None,
    account_form: ServiceAccountForm | None = None,
    created: NewApiToken | None = None,
    status: int = 200,
) -> HttpResponse:
    active = ApiToken.objects.active().select_related("user", "created_by")
    service_accounts = User.objects.filter(is_service_account=True).order_by("username")
    return render(
        request,
        "accessgroups/tokens/manage.html",
        {
            "page": paginate(request, active, per_page=PAGE_SIZE),
            "service_accounts": service_accounts,
            "token_form": token_form or ServiceAccountTokenForm(),
            "account_form": account_form or ServiceAccountForm(),
            "created": created,
            **_second_factor(request),
        },
        status=status,
    )


@never_cache
@require_GET
@login_required
def manage_tokens(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    return _render_manage(request)


@never_cache
@require_POST
@login_required
def manage_token_create(request: HttpRequest) -> HttpResponse:
    """An admin creates a token for a service account (never for a person)."""
    require_admin(request.user)
    form = ServiceAccountTokenForm(request.POST)
    if not form.is_valid():
        return _render_manage(request, token_form=form, status=400)
    created, status = _create(request, form, form.cleaned_data["user"])
    if created is None:
        return _render_manage(request, token_form=form, status=status)
    return _render_manage(request, created=created)


@require_http_methods(["GET", "POST"])
@login_required
def manage_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST revokes."""
    require_admin(request.user)
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    if request.method == "GET":
        return _confirm_revoke(request, token, "web:manage-api-tokens")
    _revoke(request, token)
    return redirect("web:manage-api-tokens")


@require_POST
@login_required
def manage_service_account_create(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    form = ServiceAccountForm(request.POST)
    if form.is_valid():
        try:
            user = service_account_create(actor=request.user, **form.cleaned_data)
        except (ValidationError, Conflict) as refusal:
            show_refusal(form, refusal)
        else:
            messages.success(request, f"Service account {user.username} created.")
            return redirect("web:manage-api-tokens")
    return _render_manage(request, account_form=form, status=400)
