"""Audit-log exports carry the chain's head so that an outside copy can be checked later."""

from __future__ import annotations

import csv
import io
import json

from accessgroups.core.audit import GENESIS_HASH, audit_record, verify_chain

URL = "/api/v1/audit-events/"


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_jsonl_streams_every_event_then_the_head(api, carol, chain):
    response = api(carol).get(URL + "?format=jsonl")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["X-Audit-Head-Hash"] == chain[-1].hash
    lines = [json.loads(line) for line in _body(response).splitlines()]
    events, trailer = lines[:-1], lines[-1]
    assert trailer == {"head": chain[-1].hash}
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5]
    assert events[2]["data"] == {"n": 3}
    # The copy links up by itself and ends at the head it names.
    prev = GENESIS_HASH
    for event in events:
        assert event["prev_hash"] == prev
        prev = event["hash"]
    assert prev == trailer["head"]
    # ...and the database still holds that head.
    assert verify_chain(expected_head=trailer["head"]) is None


def test_csv_carries_the_head_in_a_header_only(api, carol, chain):
    response = api(carol).get(URL + "?format=csv")
    assert response["X-Audit-Head-Hash"] == chain[-1].hash
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    # Every line is an event: no trailer that would not be CSV.
    assert [int(r["sequence"]) for r in rows] == [1, 2, 3, 4, 5]
    assert rows[-1]["hash"] == chain[-1].hash


def test_a_filtered_export_names_the_head_of_the_whole_log(api, carol, chain, alice):
    last = audit_record(action="other.event", actor=alice)
    response = api(carol).get(URL + "?format=jsonl&action=test.event")
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert [e["sequence"] for e in lines[:-1]] == [1, 2, 3, 4, 5]
    assert lines[-1] == {"head": last.hash} == {"head": response["X-Audit-Head-Hash"]}


def test_empty_log_exports_the_genesis_head(api, carol):
    response = api(carol).get(URL + "?format=jsonl")
    assert response["X-Audit-Head-Hash"] == GENESIS_HASH
    assert _body(response) == json.dumps({"head": GENESIS_HASH}) + "\n"


def test_formula_cells_are_neutralised_in_the_audit_csv(api, carol, alice):
    audit_record(action="test.event", actor=alice, message='=HYPERLINK("http://evil","x")')
    audit_record(action="test.event", actor=alice, message="@SUM(1)")
    audit_record(action="test.event", actor=alice, message="plain - text")
    rows = list(csv.DictReader(io.StringIO(_body(api(carol).get(URL + "?format=csv")))))
    assert [r["message"] for r in rows] == [
        '\'=HYPERLINK("http://evil","x")',
        "'@SUM(1)",
        "plain - text",
    ]
    # JSON Lines is for programs: values stay exactly as stored.
    jsonl = _body(api(carol).get(URL + "?format=jsonl")).splitlines()
    assert json.loads(jsonl[0])["message"] == '=HYPERLINK("http://evil","x")'


def test_auditors_and_admins_only(api, alice, chain):
    assert api(alice).get(URL + "?format=jsonl").status_code == 403
    assert api(None).get(URL + "?format=jsonl").status_code in (401, 403)


def test_unknown_format_is_refused_by_the_field(api, carol, chain):
    response = api(carol).get(URL + "?format=xml")
    assert response.status_code == 400
    assert "format" in response.json()
