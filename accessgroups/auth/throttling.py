"""Sign-in limits: which account an attempt counts against, and the page that refuses one.

allauth counts failed sign-ins (its ``login_failed`` limit) per client address and per
"key"; the portal makes the key the account, and answers an attempt over either limit
with 429, the page saying so in words and Retry-After saying when. allauth's other limits
(``login``: every sign-in POST per address, password reset, reauthentication, passkeys)
already answer 429 through ``handler429`` below. Counts live in Django's default cache,
which the settings make shared (Redis, else the database): docs/authentication.md.
"""

from __future__ import annotations

import math
import time

# allauth's own counting (its cache keys and their format), to say when a limit lifts; the
# version is pinned below 66 in pyproject.toml, and tests/auth/test_throttling.py checks
# Retry-After against it.
from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers

from accessgroups.models import User

ACCOUNT_APP = "allauth.account"
LOGIN_FAILED = "login_failed"

# The allauth limit each 429-answering page of the portal counts, so that handler429 can
# say when it lifts (url name -> (allauth app, action)).
_PAGE_LIMITS = {
    "account_login": (ACCOUNT_APP, "login"),
    "account_reauthenticate": (ACCOUNT_APP, "reauthenticate"),
    "account_change_password": (ACCOUNT_APP, "change_password"),
    "account_set_password": (ACCOUNT_APP, "change_password"),
    "account_reset_password": (ACCOUNT_APP, "reset_password"),
    "account_reset_password_from_key": (ACCOUNT_APP, "reset_password_from_key"),
    "account_email": (ACCOUNT_APP, "manage_email"),
    "account_signup": (ACCOUNT_APP, "signup"),
    "mfa_login_webauthn": ("allauth.mfa", "webauthn_login"),
}
# A page missing above: allauth's other limits are per minute.
_UNKNOWN_WAIT = 60


def account_key(credentials: dict) -> str:
    """The per-account key of a sign-in attempt, whichever name it typed.

    allauth keys on the login as typed, so "alice" and "alice@example.com" would be two
    allowances for one account, and the site's domain (the request's Host, without
    django.contrib.sites) would multiply them again. A login that names nobody keeps its
    own key, so that guessing unknown names is limited too.
    """
    email = (credentials.get("email") or "").strip()
    username = (credentials.get("username") or "").strip()
    user_id = None
    if email:
        user_id = User.objects.for_email(email).order_by("pk").values_list("pk", flat=True).first()
    if user_id is None and username:
        user_id = (
            User.objects.filter(username__iexact=username)
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
    if user_id is not None:
        return f"account:{user_id}"
    return f"login:{(email or username).lower()}"


def seconds_until_allowed(
    request: HttpRequest, *, app: str, action: str, key: str | None = None
) -> int:
    """When the first exhausted limit of ``action`` lets this client in again, in seconds.

    Reads allauth's own counts (a list of attempt times per rate, newest first). When none
    is found exhausted (the count was taken under another key), the longest period of the
    action's rates, which is never too early.
    """
    now = time.time()
    waits: list[float] = []
    longest = 0.0
    for rate in ratelimit.get_rates(app=app, action=action):
        longest = max(longest, rate.duration)
        if (rate.per == "key" and key is None) or (
            rate.per == "user" and not request.user.is_authenticated
        ):
            continue
        cache_key = ratelimit.get_cache_key(request, app=app, action=action, rate=rate, key=key)
        history = cache.get(cache_key, [])
        recent = sorted((t for t in history if t > now - rate.duration), reverse=True)
        if len(recent) >= rate.amount:
            waits.append(recent[rate.amount - 1] + rate.duration - now)
    wait = max(waits) if waits else (longest or _UNKNOWN_WAIT)
    return max(1, math.ceil(wait))


def too_many_attempts(request: HttpRequest, *, retry_after: int, sign_in: bool) -> HttpResponse:
    minutes = max(1, math.ceil(retry_after / 60))
    body = loader.render_to_string(
        "429.html", {"sign_in": sign_in, "retry_after": retry_after, "minutes": minutes}, request
    )
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


def sign_in_refused(request: HttpRequest, credentials: dict) -> HttpResponse:
    """429 for a sign-in over the failed-attempt limit of its account or of its address."""
    wait = seconds_until_allowed(
        request, app=ACCOUNT_APP, action=LOGIN_FAILED, key=account_key(credentials)
    )
    return too_many_attempts(request, retry_after=wait, sign_in=True)


def handler429(request: HttpRequest) -> HttpResponse:
    """allauth's 429 (portal.urls.handler429): the portal's page, with Retry-After."""
    match = getattr(request, "resolver_match", None)
    limit = _PAGE_LIMITS.get(match.url_name if match else "")
    if limit is None:
        wait = _UNKNOWN_WAIT
    else:
        wait = seconds_until_allowed(request, app=limit[0], action=limit[1])
    sign_in = limit is not None and limit[1] in ("login", "webauthn_login")
    return too_many_attempts(request, retry_after=wait, sign_in=sign_in)
