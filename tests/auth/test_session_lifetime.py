"""A browser session ends after SESSION_IDLE_MINUTES without activity, and SESSION_MAX_HOURS
after sign-in however active; htmx polling is not activity; token clients have no session."""

from __future__ import annotations

import time

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accessgroups.auth.sessions import ACTIVE_AT, SIGNED_IN_AT
from tests.browser import PASSWORD

HTMX = {"HX-Request": "true"}
MY_REQUESTS = "/my/requests/"
LOGIN = reverse("account_login")


def shift(client: Client, **seconds_ago: float) -> None:
    """Move the session's clocks back: signed_in=..., active=... seconds ago."""
    session = client.session
    now = time.time()
    if "signed_in" in seconds_ago:
        session[SIGNED_IN_AT] = now - seconds_ago["signed_in"]
    if "active" in seconds_ago:
        session[ACTIVE_AT] = now - seconds_ago["active"]
    session.save()


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def test_signing_in_through_the_form_starts_both_clocks(client, alice):
    before = time.time()
    response = client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302
    session = client.session
    assert before <= session[SIGNED_IN_AT] <= time.time()
    assert session[ACTIVE_AT] == session[SIGNED_IN_AT]


def test_a_session_idle_for_the_limit_is_signed_out_with_a_reason(client_for, alice, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client = client_for(alice)
    shift(client, signed_in=3600, active=30 * 60 + 1)

    response = client.get(MY_REQUESTS, follow=True)

    assert response.redirect_chain[0] == (f"{LOGIN}?next={MY_REQUESTS}", 302)
    assert not signed_in(client)
    assert "signed out after 30 minutes without activity" in response.content.decode()
    # The session is gone from the server too, not only from this request.
    assert not Session.objects.exists()


def test_a_session_just_under_the_idle_limit_carries_on(client_for, alice, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client = client_for(alice)
    shift(client, signed_in=3600, active=30 * 60 - 5)
    assert client.get(MY_REQUESTS).status_code == 200
    assert signed_in(client)


def test_activity_moves_the_idle_clock(client_for, alice, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client = client_for(alice)
    shift(client, signed_in=3600, active=29 * 60)

    assert client.get(MY_REQUESTS).status_code == 200

    assert time.time() - client.session[ACTIVE_AT] < 5
    # Half an hour after the old activity time, the session is still fresh.
    shift(client, active=60)
    assert client.get(MY_REQUESTS).status_code == 200
    assert signed_in(client)


def test_activity_is_written_at_most_once_a_minute(client_for, alice):
    client = client_for(alice)
    shift(client, active=20)
    recorded = client.session[ACTIVE_AT]
    assert client.get(MY_REQUESTS).status_code == 200
    assert client.session[ACTIVE_AT] == recorded


def test_htmx_polling_does_not_keep_an_idle_session_alive(client_for, alice, readonly, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client = client_for(alice)
    shift(client, signed_in=3600, active=29 * 60)
    fragment = reverse("web:my-requests-fragment")

    assert client.get(fragment, headers=HTMX).status_code == 200
    assert time.time() - client.session[ACTIVE_AT] >= 29 * 60, "a poll counted as activity"

    shift(client, active=30 * 60 + 1)
    response = client.get(fragment, headers=HTMX)
    # The fragment is not swapped for the sign-in page: htmx reloads the whole page.
    assert response.status_code == 204
    assert response["HX-Refresh"] == "true"
    assert not signed_in(client)
    page = client.get(MY_REQUESTS, follow=True)
    assert page.redirect_chain[0][0].startswith(LOGIN)
    assert "without activity" in page.content.decode()


def test_an_htmx_post_is_activity(client_for, alice, readonly):
    client = client_for(alice)
    shift(client, active=10 * 60)
    client.post(reverse("web:request-create", args=[readonly.pk]), {}, headers=HTMX)
    assert time.time() - client.session[ACTIVE_AT] < 5


def test_an_active_session_ends_at_the_absolute_limit(client_for, alice, settings):
    settings.SESSION_MAX_HOURS = 12
    client = client_for(alice)
    shift(client, signed_in=12 * 3600 + 1, active=5)

    response = client.get(MY_REQUESTS, follow=True)

    assert response.redirect_chain[0][0].startswith(LOGIN)
    assert not signed_in(client)
    assert "a sign-in lasts at most 12 hours" in response.content.decode()


def test_an_active_session_under_the_absolute_limit_carries_on(client_for, alice, settings):
    settings.SESSION_MAX_HOURS = 12
    client = client_for(alice)
    shift(client, signed_in=12 * 3600 - 60, active=5)
    assert client.get(MY_REQUESTS).status_code == 200


def test_signing_in_again_restarts_the_absolute_clock(client, alice):
    client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    shift(client, signed_in=12 * 3600 + 1)
    client.get(MY_REQUESTS)
    assert not signed_in(client)

    client.post(LOGIN, {"login": "alice", "password": PASSWORD})
    assert client.get(MY_REQUESTS).status_code == 200
    assert time.time() - client.session[SIGNED_IN_AT] < 5


def test_an_expired_session_gets_no_answer_from_the_api(client_for, alice):
    client = client_for(alice)
    shift(client, signed_in=3600, active=2 * 3600)
    response = client.get("/api/v1/access-groups/")
    assert response.status_code in (401, 403)
    assert not signed_in(client)


def test_a_session_from_before_the_clocks_gets_them_on_its_next_request(client_for, alice):
    client = client_for(alice)
    session = client.session
    del session[SIGNED_IN_AT], session[ACTIVE_AT]
    session.save()
    assert client.get(MY_REQUESTS).status_code == 200
    assert time.time() - client.session[SIGNED_IN_AT] < 5


def test_token_clients_have_no_session_written(api, alice):
    client = api(alice)
    for _ in range(3):
        response = client.get("/api/v1/access-groups/")
        assert response.status_code == 200
        assert "sessionid" not in response.cookies
    assert not Session.objects.exists()
