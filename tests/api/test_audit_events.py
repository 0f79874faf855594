import csv
import io
import json
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.core.audit import audit_record
from accessgroups.models import AuditEvent
from tests.api.helpers import assert_bad_input, database_fingerprint

URL = "/api/v1/audit-events/"


@pytest.fixture
def events(alice, bob, readonly):
    request = access_request_create(
        requester=alice, access_group=readonly, justification="incident 42"
    )
    access_request_approve(access_request=request, approver=bob, comment="ok")
    return request


def test_list_is_the_log_in_order(api, carol, events, alice):
    response = api(carol).get(URL)
    assert response.status_code == 200
    results = response.data["results"]
    assert [e["action"] for e in results] == ["request.created", "request.approved"]
    created = results[0]
    assert created["actor"] == "alice"
    assert created["subject"] == "alice"
    assert created["object_type"] == "accessrequest"
    assert created["object_id"] == str(events.pk)
    assert created["data"]["justification"] == "incident 42"
    assert results[1]["prev_hash"] == created["hash"]
    assert api(carol).get(f"{URL}{created['id']}/").data == created


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ("?action=request.approved", ["request.approved"]),
        ("?actor=bob", ["request.approved"]),
        ("?object_type=accessrequest", ["request.created", "request.approved"]),
        ("?object_type=membership", []),
        ("?object_id=REQUEST", ["request.created", "request.approved"]),
        ("?since=2000-01-01", ["request.created", "request.approved"]),
        ("?until=2000-01-01", []),
        ("?since=2999-01-01T00:00:00Z", []),
    ],
)
def test_filters(api, carol, events, query, actions):
    query = query.replace("REQUEST", str(events.pk))
    assert [e["action"] for e in api(carol).get(URL + query).data["results"]] == actions


def test_since_and_until_bound_by_time(api, carol, dave):
    audit_record(action="test.before", actor=dave)
    middle = timezone.now()  # after the first event was written, before the second
    audit_record(action="test.after", actor=dave)
    client = api(carol)

    def actions(**query):
        return [e["action"] for e in client.get(URL, query).data["results"]]

    assert actions(since=middle.isoformat()) == ["test.after"]
    assert actions(until=middle.isoformat()) == ["test.before"]
    assert actions(since=(middle - timedelta(hours=1)).isoformat(), until=middle.isoformat()) == [
        "test.before"
    ]


def test_until_a_date_means_to_the_end_of_that_day(api, carol, dave):
    audit_record(action="test.today", actor=dave)
    today = timezone.now().date().isoformat()

    results = api(carol).get(URL, {"until": today, "since": today}).data["results"]

    assert [e["action"] for e in results] == ["test.today"]


@pytest.mark.parametrize("query", ["?since=yesterday", "?until=2024-13-40", "?format=pdf"])
def test_bad_filters_are_400(api, carol, events, query):
    client = api(carol)
    before = database_fingerprint()
    field = query[1:].split("=")[0]
    assert_bad_input(client.get(URL + query), field, before)


def test_csv_export_is_streamed_and_whole(api, dave, events):
    response = api(dave).get(URL + "?format=csv")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["request.created", "request.approved"]
    assert json.loads(rows[0]["data"])["justification"] == "incident 42"
    assert rows[1]["message"] == "ok"
    assert rows[0]["access_group"] == str(events.access_group_id)
    first = AuditEvent.objects.order_by("sequence").first()
    assert rows[0]["hash"] == first.hash


def test_csv_export_with_filters(api, carol, events):
    body = b"".join(api(carol).get(URL + "?format=csv&actor=bob").streaming_content).decode()
    assert [r["action"] for r in csv.DictReader(io.StringIO(body))] == ["request.approved"]


def test_the_log_cannot_be_written_through_the_api(api, dave, events):
    client = api(dave)
    event = AuditEvent.objects.first()
    before = database_fingerprint()
    assert client.post(URL, {"action": "forged"}, format="json").status_code == 405
    assert client.delete(f"{URL}{event.pk}/").status_code == 405
    assert client.patch(f"{URL}{event.pk}/", {"action": "forged"}, format="json").status_code == 405
    assert database_fingerprint() == before


def test_pages_of_the_whole_log_are_counted_by_its_last_sequence(api, carol, dave):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(120):
        audit_record(action="account.created" if n % 3 else "account.updated", actor=dave)
    client = api(carol)
    with CaptureQueriesContext(connection) as unfiltered:
        first = client.get(URL)
    assert first.data["count"] == 120 == AuditEvent.objects.count()
    assert not [q for q in unfiltered.captured_queries if "COUNT(" in q["sql"].upper()]
    last = client.get(URL, {"page": "last"})
    assert [e["sequence"] for e in last.data["results"]] == list(range(101, 121))
    assert last.data["next"] is None and last.data["count"] == 120
    # A filtered page counts what it keeps.
    filtered = client.get(URL, {"action": "account.updated"})
    assert filtered.data["count"] == 40 and len(filtered.data["results"]) == 40
    assert client.get(URL, {"since": "2999-01-01"}).data["count"] == 0
