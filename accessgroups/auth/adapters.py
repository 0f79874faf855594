"""django-allauth adapters: who may sign up, and how SSO identities become portal users.

Local accounts are made by admins (API, admin pages, `createsuperuser`), never by signing
up. Single sign-on is open: a new employee's first sign-in creates their portal user from
the provider's claims. An SSO identity finds an existing user only through an email address
the provider says is verified; an unverified address that belongs to someone is refused
outright, so that nobody can sign in as another person by typing their address at an IdP.

With IDENTITY_SOURCE=external the new user is then linked to the identity store user their
provider created, in the background (accessgroups.identity.services.user_signed_in_with_sso).

Failed sign-ins are limited per account and per client address (accessgroups.auth.throttling).
"""

from __future__ import annotations

import re

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.account.utils import user_email, user_username
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accessgroups.auth import throttling
from accessgroups.core.limits import column_max
from accessgroups.core.throttling import client_address
from accessgroups.identity.services import user_signed_in_with_sso
from accessgroups.models import User

# Usernames are Identity Center UserNames too: ASCII, and what Django's validator accepts.
_USERNAME_UNSAFE = re.compile(r"[^A-Za-z0-9@.+_-]")
_USERNAME_MAX = column_max(User, "username")


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # No self-signup with a password: admins create local accounts.
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's limits count per address through this method: the portal's one rule
        # (TRUSTED_PROXY_COUNT), the same as the API's throttles.
        address = client_address(request)
        if not address:
            raise PermissionDenied("Unable to determine the client address.")
        return address

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials) -> str:
        # allauth's per-"key" count of failed sign-ins (and its clearing after a password
        # reset) becomes a count per account, whichever of its names was typed. A private
        # method of allauth 65: test_every_name_of_an_account_counts_against_it fails if
        # allauth stops calling it.
        return throttling.account_key(credentials)

    def pre_authenticate(self, request: HttpRequest, **credentials) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as exc:
            # allauth says "too many attempts" as an error of the form (200), which scripts
            # and monitoring read as an ordinary wrong password: answer 429 instead.
            if exc.code != "too_many_login_attempts":
                raise
            raise ImmediateHttpResponse(throttling.sign_in_refused(request, credentials)) from exc

    def pre_login(self, request: HttpRequest, user, **kwargs) -> HttpResponse | None:
        # Service accounts are API clients: no password, no mail, and should a password or
        # an identity provider ever vouch for one, still no session (every sign-in, local or
        # SSO, passes here). Admins may mint their tokens only because nobody signs in as one.
        if getattr(user, "is_service_account", False):
            clear_login(request)
            return render(
                request,
                "account/service_account_refused.html",
                {"username": user.username},
                status=403,
            )
        return super().pre_login(request, user, **kwargs)


def _clean_username(value: str) -> str:
    return _USERNAME_UNSAFE.sub("", value)[:_USERNAME_MAX]


def _unique_username(base: str) -> str:
    base = base or "user"
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        suffix = str(n)
        candidate = base[: _USERNAME_MAX - len(suffix)] + suffix
    return candidate


def _refuse(request: HttpRequest, sociallogin: SocialLogin, reason: str) -> ImmediateHttpResponse:
    response = render(
        request,
        "socialaccount/refused.html",
        {"provider_name": sociallogin.provider.name, "reason": reason},
        status=403,
    )
    return ImmediateHttpResponse(response)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # The identity provider vouches for its people: their first sign-in creates them.
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        # Runs after allauth looked the identity up: by its provider uid (already linked)
        # or by a verified email (EMAIL_AUTHENTICATION). Anything else would be a new user.
        if sociallogin.user is not None and sociallogin.user.pk:
            # An existing portal user (linked before, or found by a verified email).
            user_signed_in_with_sso(
                user=sociallogin.user, external_id=sociallogin.account.uid or ""
            )
            return
        if sociallogin.is_existing or sociallogin.user is None:
            return
        verified = [a.email for a in sociallogin.email_addresses if a.verified]
        if not verified:
            email = user_email(sociallogin.user) or ""
            if email and User.objects.for_email(email).exists():
                raise _refuse(
                    request,
                    sociallogin,
                    "The identity provider did not confirm that the email address is yours, "
                    "and a portal user already has it. Ask the provider's administrator to "
                    "mark the address as verified, or sign in with your portal password.",
                )
            raise _refuse(
                request,
                sociallogin,
                "The identity provider did not give a verified email address, which the "
                "portal needs to create your user.",
            )
        # A verified address is the portal user's address: it must be the one saved.
        user_email(sociallogin.user, verified[0])

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict) -> User:
        user = super().populate_user(request, sociallogin, data)
        email = user_email(user) or ""
        base = _clean_username(data.get("username") or email.partition("@")[0])
        user_username(user, _unique_username(base))
        name_parts = (data.get("name") or "").partition(" ")
        user.given_name = (data.get("first_name") or name_parts[0] or "")[:64]
        user.family_name = (data.get("last_name") or name_parts[2] or "")[:64]
        return user

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form=None) -> User:
        user = super().save_user(request, sociallogin, form)
        # The provider's id of the person (OIDC sub, SAML NameID): IDENTITY_MATCH=external_id.
        user_signed_in_with_sso(user=user, external_id=sociallogin.account.uid or "")
        return user
