"""Who has access in every format: the same columns and values, formula cells neutralised."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from accessgroups.models import AccessGroupAccount, Membership, ProvisioningStatus
from accessgroups.reports.selectors import WHO_HAS_ACCESS_COLUMNS

URL = "/api/v1/reports/who-has-access/"
IN_SYNC = ProvisioningStatus.IN_SYNC
EVIL_NAME = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def world(make_account, make_group, make_user, alice, erin, dave):
    now = timezone.now()
    evil = make_account(EVIL_NAME)
    plain = make_account("plain")
    group = make_group("Ops", accounts=[evil, plain])
    AccessGroupAccount.objects.filter(access_group=group).update(provisioning_status=IN_SYNC)

    def grant(user, justification, expires_at=None):
        return Membership.objects.create(
            user=user,
            access_group=group,
            source="admin",
            granted_by=dave,
            justification=justification,
            granted_at=now - timedelta(days=1),
            activated_at=now - timedelta(days=1),
            expires_at=expires_at,
            provisioning_status=IN_SYNC,
        )

    return {
        "alice": grant(alice, "-1 for the incident", expires_at=now + timedelta(hours=2)),
        "erin": grant(erin, "@oncall\tweek", expires_at=now + timedelta(days=30)),
        "frank": grant(make_user("frank"), "permanent"),
        "evil": evil,
        "now": now,
    }


def _json_rows(client, query: str = "") -> list[dict]:
    rows, url = [], URL + "?format=json" + query
    while url:
        page = client.get(url).json()
        rows += page["results"]
        url = page["next"]
    return rows


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def _as_spreadsheet_cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r", "'"):
        return "'" + value
    return value


def test_every_format_has_the_same_rows(api, carol, world):
    client = api(carol)
    expected = _json_rows(client)
    assert len(expected) == 6  # three people x two accounts
    assert list(expected[0]) == list(WHO_HAS_ACCESS_COLUMNS)
    assert {r["justification"] for r in expected} == {
        "-1 for the incident",
        "@oncall\tweek",
        "permanent",
    }
    assert {r["permission_set"] for r in expected} == {"Ops"}

    jsonl = client.get(URL + "?format=jsonl")
    assert jsonl.streaming
    assert jsonl["Content-Type"] == "application/jsonl; charset=utf-8"
    assert [json.loads(line) for line in _body(jsonl).splitlines()] == expected

    csv_response = client.get(URL + "?format=csv")
    rows = list(csv.reader(io.StringIO(_body(csv_response))))
    assert rows[0] == list(WHO_HAS_ACCESS_COLUMNS)
    assert rows[1:] == [
        [_as_spreadsheet_cell(r[c]) for c in WHO_HAS_ACCESS_COLUMNS] for r in expected
    ]

    xlsx = client.get(URL + "?format=xlsx")
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="who-has-access-' in xlsx["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == list(WHO_HAS_ACCESS_COLUMNS)
    assert cells[1:] == [
        [_as_spreadsheet_cell(r[c]) or None for c in WHO_HAS_ACCESS_COLUMNS] for r in expected
    ]
    # Stored as text, not as formulas.
    assert all(c.data_type == "s" for row in sheet.iter_rows(min_row=2) for c in row if c.value)


def test_formula_cells_are_neutralised_in_csv_and_xlsx(api, carol, world):
    client = api(carol)
    text = _body(client.get(URL + f"?format=csv&account={world['evil'].account_id}"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["account_name"] for r in rows} == {"'" + EVIL_NAME}
    assert {r["justification"] for r in rows} >= {"'-1 for the incident", "'@oncall\tweek"}
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text

    xlsx = client.get(URL + f"?format=xlsx&account={world['evil'].account_id}")
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    names = {
        row[WHO_HAS_ACCESS_COLUMNS.index("account_name")]
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert names == {"'" + EVIL_NAME}


def test_expiring_before(api, carol, world):
    client = api(carol)
    soon = (world["now"] + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    later = (world["now"] + timedelta(days=60)).isoformat().replace("+00:00", "Z")
    assert {r["username"] for r in _json_rows(client, f"&expiring_before={soon}")} == {"alice"}
    # A grant without an expiry never expires, so it is never "expiring".
    assert {r["username"] for r in _json_rows(client, f"&expiring_before={later}")} == {
        "alice",
        "erin",
    }
    jsonl = _body(client.get(URL + f"?format=jsonl&expiring_before={soon}")).splitlines()
    assert {json.loads(line)["username"] for line in jsonl} == {"alice"}
    bad = client.get(URL + "?expiring_before=soon")
    assert bad.status_code == 400
    assert "expiring_before" in bad.json()


@pytest.mark.parametrize("fmt", ["jsonl", "xlsx"])
def test_only_auditors_and_admins(api, alice, dave, world, fmt):
    assert api(alice).get(URL + f"?format={fmt}").status_code == 403
    assert api(dave).get(URL + f"?format={fmt}").status_code == 200
