"""The portal's session store (accessgroups.auth.sessions.SessionStore): Django's database
sessions, read with SQL built once per process. What it reads must be what Django's own
store reads: the session while it lasts, nothing once it expired or for an unknown key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accessgroups.auth.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _saved(data: dict) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def test_a_session_reads_back_in_one_query_as_djangos_store_reads_it():
    key = _saved({"answer": 42, "who": "<script>"})
    ours = SessionStore(key)
    with CaptureQueriesContext(connection) as captured:
        assert ours.load() == {"answer": 42, "who": "<script>"}
    assert len(captured) == 1
    assert DjangoStore(key).load() == ours.load()
    assert ours.session_key == key


def test_an_expired_or_unknown_session_is_empty_and_forgotten():
    key = _saved({"answer": 42})
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    for asked in (key, "no-such-session-key-at-all"):
        ours = SessionStore(asked)
        assert ours.load() == {}
        assert ours.session_key is None  # a new key at the next save, never the old one
        assert DjangoStore(asked).load() == {}


def test_one_session_is_not_read_for_another():
    first, second = _saved({"n": 1}), _saved({"n": 2})
    assert SessionStore(first).load() == {"n": 1}
    assert SessionStore(second).load() == {"n": 2}


def test_signed_in_pages_read_the_session_through_it(client_for, alice):
    client = client_for(alice)
    assert client.get(reverse("web:catalogue")).status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("web:catalogue"))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
