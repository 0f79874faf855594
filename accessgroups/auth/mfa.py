"""No way around the second factor.

- Anyone who has a TOTP or WebAuthn authenticator must have passed it in this session: a
  session that did not (a password-only sign-in, whatever the path) is sent to allauth's
  two-factor re-authentication before any other page; session calls to the API get a 403.
- With ``REQUIRE_MFA_FOR_APPROVERS`` on, an approver (named approver of any access group) or
  admin who has no authenticator is sent to the two-factor page to add one first.
- Django admin's and the browsable API's login pages send people to the portal's sign-in
  (``login_redirect``), so every session starts at allauth with its second factor.

API calls with a personal token are not affected here (DRF authenticates them later);
a personal API token is only made after a sign-in that passed MFA
(``session_passed_mfa``), by an admin for a service account, or by an operator at the
shell (accessgroups.auth.tokens).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from urllib.parse import urlencode

from allauth.account.internal.flows.login import (
    get_authentication_records,
    record_authentication,
)
from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn import forms as webauthn_forms
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accessgroups.auth.standing import standing
from accessgroups.core.roles import decides_anything

# Pages a user without MFA still needs: allauth's own (enrolment, sign-out, password
# change) and the static files those pages use.
_ALWAYS_ALLOWED = ("/accounts/",)

MFA_REQUIRED_MESSAGE = (
    "Approvers and admins set up two-factor authentication before using the portal: "
    "add an authenticator app or a security key here, then carry on."
)

# Authenticators that are a second factor on their own (recovery codes come with them).
_SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def session_passed_mfa(request: HttpRequest) -> bool:
    """Whether this session's sign-in passed a second factor.

    allauth records each way a session authenticated: ``mfa`` after a TOTP code, a
    security key or a passkey; ``socialaccount`` after SSO, which counts only for the
    providers named in ``SSO_MFA_PROVIDERS`` (those whose own sign-in enforces MFA). A
    session made by any other login (Django's own, a test client) has no record at all.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    trusted = set(getattr(settings, "SSO_MFA_PROVIDERS", ()))
    for record in get_authentication_records(request, user):
        method = record.get("method")
        if method == "mfa" or (method == "socialaccount" and record.get("provider") in trusted):
            return True
    return False


def second_factors(user) -> QuerySet[Authenticator]:
    return Authenticator.objects.filter(user=user, type__in=_SECOND_FACTORS)


def has_second_factor(user) -> bool:
    return second_factors(user).exists()


def mfa_required(user) -> bool:
    """True when this user must enrol an authenticator before using the portal."""
    if not _must_have_second_factor(user):
        return False
    # Cheapest test first: most users are requesters, who need one query to rule out.
    if not decides_anything(user):
        return False
    return not has_second_factor(user)


def _must_have_second_factor(user) -> bool:
    """Whether the setting asks this user's kind for MFA at all (approvers and admins)."""
    if not getattr(settings, "REQUIRE_MFA_FOR_APPROVERS", False):
        return False
    return user.is_authenticated and user.is_active


class MFAState(enum.Enum):
    OK = "ok"
    VERIFY = "verify"  # has a second factor this session has not passed
    ENROL = "enrol"  # must add a second factor first


def mfa_state(request: HttpRequest) -> MFAState:
    user = request.user
    if not user.is_authenticated or session_passed_mfa(request):
        return MFAState.OK
    who = standing(request)
    if who.has_second_factor:
        return MFAState.VERIFY
    if who.decides and _must_have_second_factor(user):
        return MFAState.ENROL
    return MFAState.OK


class RequireMFAMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._exempt(request.path_info):
            return self.get_response(request)
        state = mfa_state(request)
        if state is MFAState.OK:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            detail = (
                "Sign in with your second factor first."
                if state is MFAState.VERIFY
                else "Set up two-factor authentication in the portal first."
            )
            return JsonResponse({"detail": detail}, status=403)
        if state is MFAState.VERIFY:
            target = reverse("mfa_reauthenticate")
            return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return redirect(reverse("mfa_index"))

    @staticmethod
    def _exempt(path: str) -> bool:
        static = "/" + settings.STATIC_URL.lstrip("/")
        return path.startswith(_ALWAYS_ALLOWED) or path.startswith(static)


def login_redirect(request: HttpRequest) -> HttpResponse:
    """Django admin's and the browsable API's login pages: the portal's sign-in instead, so
    that a password alone never opens a session."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    query = f"?{urlencode({'next': target})}" if target else ""
    return redirect(f"{reverse('account_login')}{query}")


def record_enrolment(request: HttpRequest | None, user, authenticator, **kwargs) -> None:
    """A person who just added an authenticator proved they hold it (allauth asks for a
    code or a touch): this session counts as having passed MFA, rather than asking again."""
    if request is not None and getattr(request, "user", None) == user:
        record_authentication(request, user, "mfa", type=authenticator.type, enrolled=True)


def mfa_notice(request: HttpRequest) -> dict[str, str]:
    """Context processor: on the two-factor pages, why this user was sent there."""
    user = getattr(request, "user", None)
    if user is None or not request.path_info.startswith(reverse("mfa_index")):
        return {}
    return {"mfa_notice": MFA_REQUIRED_MESSAGE} if mfa_required(user) else {}


# --- security keys: a refusal in words -------------------------------------------------------

KEY_REFUSED = (
    "This security key or passkey was not accepted. Use a key added to your account here, "
    "or your authenticator app."
)


class _KeyRefusalInWords:
    """allauth reports a refused key on its hidden ``credential`` field, which a page can
    only show as "(Hidden field credential) Incorrect code."; say it to the person instead."""

    def clean(self):
        cleaned = super().clean()
        if self._errors.pop("credential", None) is not None:
            self.add_error(None, KEY_REFUSED)
        return cleaned


class AuthenticateWebAuthnForm(_KeyRefusalInWords, webauthn_forms.AuthenticateWebAuthnForm):
    pass


class LoginWebAuthnForm(_KeyRefusalInWords, webauthn_forms.LoginWebAuthnForm):
    pass


class ReauthenticateWebAuthnForm(_KeyRefusalInWords, webauthn_forms.ReauthenticateWebAuthnForm):
    pass
