"""Approvers and admins must use multi-factor authentication before they use the portal.

With ``REQUIRE_MFA_FOR_APPROVERS`` on, a signed-in approver (named approver of any access
group) or admin who has no TOTP or WebAuthn authenticator is sent to the two-factor page
before any other page; session calls to the API get a 403 that says why. API calls with a
token are not affected: the session middleware does not see them (DRF authenticates them
later), and a personal API token is only ever created after a second factor
(``session_passed_mfa``), by an admin for a service account, or by an operator at the shell
(accessgroups.auth.tokens).
"""

from __future__ import annotations

from collections.abc import Callable

from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn import forms as webauthn_forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

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


def mfa_required(user) -> bool:
    """True when this user must enrol an authenticator before using the portal."""
    if not getattr(settings, "REQUIRE_MFA_FOR_APPROVERS", False):
        return False
    if not user.is_authenticated or not user.is_active:
        return False
    # Cheapest test first: most users are requesters, who need one query to rule out.
    if not decides_anything(user):
        return False
    return not has_second_factor(user)


def has_second_factor(user) -> bool:
    """Whether the user has an authenticator app or a security key (recovery codes only
    back those up)."""
    return Authenticator.objects.filter(user=user, type__in=_SECOND_FACTORS).exists()


class RequireMFAMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._exempt(request.path_info) and mfa_required(request.user):
            if request.path_info.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Set up two-factor authentication in the portal first."},
                    status=403,
                )
            return redirect(reverse("mfa_index"))
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        static = "/" + settings.STATIC_URL.lstrip("/")
        return path.startswith(_ALWAYS_ALLOWED) or path.startswith(static)


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
