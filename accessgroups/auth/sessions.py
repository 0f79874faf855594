"""How long a browser session lasts: ``SESSION_IDLE_MINUTES`` without activity, and never
more than ``SESSION_MAX_HOURS`` after sign-in, however active.

The session holds two times (seconds since the epoch): when this sign-in happened (written by
``record_sign_in`` on Django's ``user_logged_in``), and when the person last did something.
Both are checked on the server at every request; the cookie's own lifetime
(``SESSION_COOKIE_AGE``) is only the browser's copy of the idle limit.

What counts as activity: any request of the person's browser, except the page's own
background refreshes, htmx GETs (``HX-Request``), such as My requests polling every 2 s
while a request is open. A page left open is idle, whatever it polls. Activity is written at
most once a minute, so that a busy person does not cost a session write per request.

API calls with a token have no session and are not affected: the portal never writes a
session for them.

The sessions live in the database (``SESSION_ENGINE`` is this module): Django's store,
reading a session with SQL built once per process (accessgroups.core.compiled), since every
signed-in request reads one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.http import HttpRequest, HttpResponse

from accessgroups.core import compiled

SIGNED_IN_AT = "portal_signed_in_at"
ACTIVE_AT = "portal_active_at"
# Activity is recorded at most this often: the idle limit is counted in minutes.
ACTIVITY_RESOLUTION_SECONDS = 60

IDLE_MESSAGE = "You were signed out after {minutes} minutes without activity. Sign in again."
MAX_MESSAGE = "You were signed out: a sign-in lasts at most {hours} hours. Sign in again."


def _unexpired(session_key: str) -> QuerySet:
    from django.contrib.sessions.models import Session

    return Session.objects.filter(session_key=session_key, expire_date__gt=Now()).values_list(
        "session_data"
    )


class SessionStore(DatabaseSessionStore):
    """Django's database sessions; a session is read with SQL built once per process."""

    def load(self) -> dict:
        found = compiled.rows("session", _unexpired, (self.session_key,))
        if not found:  # unknown or expired: a new session, as Django's store does
            self._session_key = None
            return {}
        return self.decode(found[0][0])


def record_sign_in(sender: type, request: HttpRequest | None, **kwargs: object) -> None:
    """Receiver of ``user_logged_in``: both clocks start at sign-in (connected in apps.py)."""
    if request is not None and hasattr(request, "session"):
        _start_clocks(request.session, time.time())


def _start_clocks(session: SessionBase, now: float) -> None:
    session[SIGNED_IN_AT] = now
    session[ACTIVE_AT] = now


def is_background(request: HttpRequest) -> bool:
    """A request the page makes by itself (htmx polling), not one the person made."""
    return request.headers.get("HX-Request") == "true" and request.method in ("GET", "HEAD")


def session_end_reason(request: HttpRequest, now: float) -> str | None:
    """Why this signed-in session is over ("idle" or "max"), or None while it is not."""
    session = request.session
    signed_in = session.get(SIGNED_IN_AT)
    if signed_in is None:
        return None
    if now - signed_in >= settings.SESSION_MAX_HOURS * 3600:
        return "max"
    if now - session.get(ACTIVE_AT, signed_in) >= settings.SESSION_IDLE_MINUTES * 60:
        return "idle"
    return None


class SessionLifetimeMiddleware:
    """Ends sessions that are idle or too old; placed after the message middleware, so that
    the sign-in page can say why. Middleware before it only reads the user (the MFA rule may
    redirect), and no view runs for a session this one ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        # A session without a signed-in user (anonymous, or a token client, which sends no
        # cookie) is left alone: writing to it would create a session row per request.
        if SESSION_KEY in session:
            now = time.time()
            reason = session_end_reason(request, now)
            if reason is not None:
                return self._end(request, reason)
            if SIGNED_IN_AT not in session:
                # Signed in before the portal kept these times: the limits count from now.
                _start_clocks(session, now)
            elif not is_background(request) and (
                now - session.get(ACTIVE_AT, 0) >= ACTIVITY_RESOLUTION_SECONDS
            ):
                session[ACTIVE_AT] = now
        return self.get_response(request)

    def _end(self, request: HttpRequest, reason: str) -> HttpResponse:
        logout(request)
        if reason == "max":
            messages.info(request, MAX_MESSAGE.format(hours=settings.SESSION_MAX_HOURS))
        else:
            messages.info(request, IDLE_MESSAGE.format(minutes=settings.SESSION_IDLE_MINUTES))
        if request.headers.get("HX-Request") == "true":
            # A fragment must not be swapped for the sign-in page: reload the whole page,
            # which now asks to sign in (and comes back here afterwards).
            return HttpResponse(status=204, headers={"HX-Refresh": "true"})
        return self.get_response(request)
