"""The files' own query gives the rows, values and bytes the serializer gave."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.api.reports import WhoHasAccessRow
from accessgroups.models import (
    AccessGroupAccount,
    AccessRequest,
    Decision,
    DecisionOutcome,
    Membership,
    MembershipSource,
    ProvisioningStatus,
    RequestStatus,
)
from accessgroups.reports.exports import csv_response, jsonl_response
from accessgroups.reports.selectors import WHO_HAS_ACCESS_COLUMNS, who_has_access

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/who-has-access/"
IN_SYNC = ProvisioningStatus.IN_SYNC


@pytest.fixture
def extended(make_account, make_group, make_user, alice, bob, erin, dave):
    """alice's membership came from a request bob approved, then an extension erin approved
    (a day later); frank's from an admin grant by a user whose name looks like a formula."""
    now = timezone.now()
    ou = make_account("plain", ou_path="=Root/Prod")
    group = make_group("Ops", accounts=[ou, make_account("@other")])
    AccessGroupAccount.objects.filter(access_group=group).update(
        provisioning_status=IN_SYNC, valid_from=now - timedelta(days=5)
    )
    granter = make_user("-granter")
    membership = Membership.objects.create(
        user=alice,
        access_group=group,
        source=MembershipSource.REQUEST,
        granted_by=bob,
        justification="line one\r\nline, two \"quoted\"",
        granted_at=now - timedelta(days=3),
        activated_at=now - timedelta(days=3),
        expires_at=(now + timedelta(days=1)).replace(microsecond=0),
        provisioning_status=IN_SYNC,
    )
    for approver, days_ago in ((bob, 3), (erin, 1)):
        request = AccessRequest.objects.create(
            requester=alice,
            access_group=group,
            justification="work",
            status=RequestStatus.ACTIVE if approver == erin else RequestStatus.EXPIRED,
            membership=membership,
        )
        Decision.objects.create(
            request=request,
            requester=alice,
            decided_by=approver,
            outcome=DecisionOutcome.APPROVE,
            created_at=now - timedelta(days=days_ago),
        )
    Membership.objects.create(
        user=make_user("frank"),
        access_group=group,
        source=MembershipSource.ADMIN,
        granted_by=granter,
        granted_at=now - timedelta(days=2),
        activated_at=now - timedelta(days=2),
        provisioning_status=IN_SYNC,
    )
    return {"now": now}


def _serialised(**filters) -> list[list]:
    """The rows as the API's JSON gives them: what the files wrote before their own query."""
    out = WhoHasAccessRow()
    return [
        [data[c] for c in WHO_HAS_ACCESS_COLUMNS]
        for data in map(out.to_representation, who_has_access(**filters))
    ]


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("moment", [None, 36])  # now; 36 hours ago (before erin's approval)
def test_files_are_the_bytes_the_serializer_gave(api, carol, extended, moment):
    header = list(WHO_HAS_ACCESS_COLUMNS)
    query = ""
    filters = {}
    if moment is not None:
        filters["at"] = extended["now"] - timedelta(hours=moment)
        query = "&at=" + filters["at"].isoformat().replace("+00:00", "Z")
    expected = _serialised(**filters)
    assert len(expected) == 4  # alice and frank, two accounts each
    client = api(carol)
    old_csv = _body(csv_response(header, expected, "x.csv"))
    assert _body(client.get(URL + "?format=csv" + query)) == old_csv
    old_jsonl = _body(jsonl_response(header, expected, "x.jsonl"))
    assert _body(client.get(URL + "?format=jsonl" + query)) == old_jsonl
    approvers = {json.loads(line)["approved_by"] for line in old_jsonl.splitlines()}
    # The latest approval by then names the approver; an admin grant its granter.
    assert approvers == ({"bob", "-granter"} if moment else {"erin", "-granter"})


def test_user_text_is_neutralised_in_csv_only(api, carol, extended):
    client = api(carol)
    csv_text = _body(client.get(URL + "?format=csv")).decode()
    assert ",'-granter," in csv_text and ",'@other," in csv_text and ",'=Root/Prod" in csv_text
    jsonl = [json.loads(line) for line in _body(client.get(URL + "?format=jsonl")).splitlines()]
    assert {r["approved_by"] for r in jsonl} == {"erin", "-granter"}
    assert {r["account_ou_path"] for r in jsonl} == {"=Root/Prod", ""}


def test_reading_ahead_stops_with_the_download(extended, monkeypatch):
    """A download read in part (the client went away) stops its read-ahead thread and
    leaves the connection usable; one read in full gives every row once, in order."""
    from django.db import connection

    from accessgroups.models import User
    from accessgroups.reports import export_rows

    if connection.vendor != "postgresql":
        pytest.skip("the read-ahead thread reads PostgreSQL's server-side cursor")
    monkeypatch.setattr(export_rows, "FIRST_FETCH_ROWS", 1)
    monkeypatch.setattr(export_rows, "FETCH_ROWS", 1)
    monkeypatch.setattr(export_rows, "READ_AHEAD_BATCHES", 1)
    rows = [row for batch in export_rows.who_has_access_batches(for_spreadsheet=False) for row in batch]
    assert [list(r) for r in rows] == _serialised()
    batches = export_rows.who_has_access_batches(for_spreadsheet=False)
    assert len(next(batches)) == 1
    batches.close()
    assert not [t for t in threading.enumerate() if t.name == "who-has-access-read-ahead"]
    assert User.objects.filter(username="alice").exists()
