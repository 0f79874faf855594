"""The audit log's pages are found by an event's sequence (a signed cursor), newest first:
a late page costs what the first does and no view counts the whole log."""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.core.audit import audit_record
from accessgroups.models import AuditEvent
from accessgroups.reports.rows import AFTER, cursor_token
from tests.web.test_auditor_pages import _audit_rows

pytestmark = pytest.mark.django_db

AUDIT = "web:audit-log"


def _link(response, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def _walk(client, url: str, rel: str) -> list[list[int]]:
    """The pages met following ``rel`` links from ``url``, each as its sequences."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(_audit_rows(response))
        url = _link(response, rel)
        assert len(pages) < 10, "the links go round in a circle"
    return pages


@pytest.fixture
def log_of_120(dave, alice):
    # Two actors, interleaved: a filter keeps every other event.
    for i in range(120):
        audit_record(action="account.created", actor=dave if i % 2 else alice, message=str(i))
    return list(AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True))


def test_older_and_newer_links_walk_the_whole_log_and_back(client_for, carol, log_of_120):
    client = client_for(carol)
    forwards = _walk(client, reverse(AUDIT), "next")
    assert [len(page) for page in forwards] == [50, 50, 20]
    assert [s for page in forwards for s in page] == log_of_120

    last = client.get(reverse(AUDIT))
    for _ in range(2):
        last = client.get(_link(last, "next"))
    assert _link(last, "next") is None
    backwards = _walk(client, _link(last, "prev"), "prev")
    assert backwards == forwards[-2::-1]
    assert _link(client.get(reverse(AUDIT)), "prev") is None


def test_a_filter_travels_with_the_links(client_for, carol, dave, log_of_120):
    client = client_for(carol)
    dave_events = list(
        AuditEvent.objects.filter(actor_username="dave")
        .order_by("-sequence")
        .values_list("sequence", flat=True)
    )
    pages = _walk(client, f"{reverse(AUDIT)}?actor=dave", "next")
    assert [len(page) for page in pages] == [50, 10]
    assert [s for page in pages for s in page] == dave_events == log_of_120[0::2]


def test_no_view_counts_the_log_and_a_late_page_costs_what_the_first_does(
    client_for, carol, log_of_120
):
    client = client_for(carol)
    client.get(reverse(AUDIT))  # the object types' choices, read once
    with CaptureQueriesContext(connection) as first:
        response = client.get(reverse(AUDIT))
    with CaptureQueriesContext(connection) as late:
        client.get(_link(client.get(_link(response, "next")), "next"))
    assert not [q for q in first.captured_queries if "COUNT(" in q["sql"].upper()]
    # The later page is two requests (two pages' worth of queries) in one capture.
    assert len(late) == 2 * len(first)


def test_a_numbered_page_or_a_cursor_it_did_not_make_starts_at_the_newest(
    client_for, carol, log_of_120
):
    client = client_for(carol)
    newest = _audit_rows(client.get(reverse(AUDIT)))
    assert newest == log_of_120[:50]

    response = client.get(reverse(AUDIT), {"page": 3, "actor": "dave"})
    assert response.status_code == 302
    assert response.url == f"{reverse(AUDIT)}?actor=dave"
    assert _audit_rows(client.get(reverse(AUDIT), {"page": 1})) == newest
    # A report's cursor (three texts and an id), a made-up one, and junk.
    report_cursor = cursor_token(AFTER, ("alice", "ReadOnly", "111111111111", 3))
    for cursor in (report_cursor, "made-up", "x\x00y", cursor_token(AFTER, ("60",))):
        response = client.get(reverse(AUDIT), {"cursor": cursor})
        assert response.status_code == 200, cursor
        assert _audit_rows(response) == newest, cursor
    # One it made: the events after the given sequence, older ones.
    response = client.get(reverse(AUDIT), {"cursor": cursor_token(AFTER, (log_of_120[9],))})
    assert _audit_rows(response) == log_of_120[10:60]
