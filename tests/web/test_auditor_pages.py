"""Auditor pages: who has access (the same rows as the API's CSV) and the audit log."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accessgroups.core.audit import audit_record
from accessgroups.models import (
    AccessGroupAccount,
    AuditEvent,
    Membership,
    MembershipExtension,
    MembershipSource,
    ProvisioningStatus,
    User,
)
from accessgroups.web import choices

pytestmark = pytest.mark.django_db

REPORT = "web:who-has-access"
AUDIT = "web:audit-log"


def _in_sync(group) -> None:
    AccessGroupAccount.objects.filter(access_group=group).update(
        provisioning_status=ProvisioningStatus.IN_SYNC
    )


def _grant(user, group, *, by=None, status=ProvisioningStatus.IN_SYNC) -> Membership:
    now = timezone.now()
    return Membership.objects.create(
        user=user,
        access_group=group,
        source=MembershipSource.ADMIN,
        granted_by=by,
        granted_at=now,
        activated_at=now,
        provisioning_status=status,
    )


def _export_url(response) -> str:
    match = re.search(r'<a [^>]*href="([^"]+)"[^>]*>Export CSV</a>', response.content.decode())
    assert match, "no Export CSV link"
    return html.unescape(match.group(1))


def _csv_rows(client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _page_rows(response) -> list[tuple[str, str, str]]:
    """(username, access group, account id) of each row the page shows, in order."""
    found = re.findall(
        r'<tr class="report-row" data-username="([^"]*)" data-access-group="([^"]*)" data-account-id="([^"]*)">',
        response.content.decode(),
    )
    return [tuple(html.unescape(v) for v in row) for row in found]


@pytest.fixture
def world(make_group, make_account, sandbox, alice, bob, erin, dave):
    """alice in ReadOnly (sandbox + prod), erin in Deploy (prod); one membership still provisioning."""
    prod = make_account("prod")
    readonly = make_group("ReadOnly", accounts=[sandbox, prod], approvers=[bob])
    deploy = make_group("Deploy", accounts=[prod], approvers=[bob])
    _in_sync(readonly)
    _in_sync(deploy)
    _grant(alice, readonly, by=dave)
    _grant(erin, deploy, by=dave)
    _grant(bob, deploy, by=dave, status=ProvisioningStatus.PROVISIONING)  # not access yet
    return {"readonly": readonly, "deploy": deploy, "prod": prod, "sandbox": sandbox}


def test_report_rows_equal_the_csv_rows_for_each_filter(client_for, carol, alice, world):
    client = client_for(carol)
    for query, expected in (
        (
            {},
            {
                ("alice", "ReadOnly", world["sandbox"].account_id),
                ("alice", "ReadOnly", world["prod"].account_id),
                ("erin", "Deploy", world["prod"].account_id),
            },
        ),
        (
            {"user": "alice"},
            {
                ("alice", "ReadOnly", world["sandbox"].account_id),
                ("alice", "ReadOnly", world["prod"].account_id),
            },
        ),
        (
            {"account": world["prod"].account_id},
            {
                ("alice", "ReadOnly", world["prod"].account_id),
                ("erin", "Deploy", world["prod"].account_id),
            },
        ),
        ({"access_group": str(world["deploy"].pk)}, {("erin", "Deploy", world["prod"].account_id)}),
    ):
        response = client.get(reverse(REPORT), query)
        assert response.status_code == 200
        shown = _page_rows(response)
        assert set(shown) == expected, query
        exported = _csv_rows(client, _export_url(response))
        assert [(r["username"], r["access_group"], r["account_id"]) for r in exported] == shown
        # Every column the page holds comes from the same selector row as the CSV's.
        for row, csv_row in zip(response.context["page"].object_list, exported, strict=True):
            assert row["email"] == csv_row["email"]
            assert row["approved_by"] == csv_row["approved_by"] == "dave"
            assert row["source"] == csv_row["source"]


def test_as_of_a_past_moment_the_page_and_its_exports_show_history(client_for, carol, alice, world):
    """alice's ReadOnly began an hour ago and was extended; two hours ago nobody had it."""
    membership = Membership.objects.get(user=alice)
    hour = timezone.timedelta(hours=1)
    start, old_end = timezone.now() - hour, timezone.now() + hour
    Membership.objects.filter(pk=membership.pk).update(
        granted_at=start, activated_at=start, expires_at=old_end + 3 * hour
    )
    MembershipExtension.objects.create(
        membership=membership,
        changed_at=start + hour / 2,
        previous_expires_at=old_end,
        expires_at=old_end + 3 * hour,
    )
    AccessGroupAccount.objects.update(valid_from=start - 5 * hour)
    client = client_for(carol)
    moment = (start + hour / 4).strftime("%Y-%m-%dT%H:%M")

    response = client.get(reverse(REPORT), {"user": "alice", "at": moment})
    assert response.status_code == 200
    assert b"Who had access on" in response.content
    assert {row[0] for row in _page_rows(response)} == {"alice"}
    # Before the extension: the end in force then, on the page and in the file.
    assert {row["expires_at"] for row in response.context["page"].object_list} == {old_end}
    exported = _csv_rows(client, _export_url(response))
    assert [(r["username"], r["account_id"]) for r in exported] == [
        (u, a) for u, _, a in _page_rows(response)
    ]
    assert {r["expires_at"] for r in exported} == {old_end.isoformat().replace("+00:00", "Z")}

    earlier = (start - hour).strftime("%Y-%m-%dT%H:%M")
    response = client.get(reverse(REPORT), {"user": "alice", "at": earlier})
    assert _page_rows(response) == []


def test_expiring_before_and_other_formats(client_for, carol, alice, erin, world):
    soon = timezone.now() + timezone.timedelta(hours=2)
    Membership.objects.filter(user=alice).update(expires_at=soon)
    client = client_for(carol)
    response = client.get(
        reverse(REPORT), {"expiring_before": (soon + timezone.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 200
    assert {row[0] for row in _page_rows(response)} == {"alice"}
    links = dict(
        (label, html.unescape(url))
        for url, label in re.findall(r'<a [^>]*href="([^"]+)"[^>]*download>([^<]+)</a>', response.content.decode())
    )
    assert set(links) == {"Export CSV", "JSON Lines", "XLSX"}
    lines = b"".join(client.get(links["JSON Lines"]).streaming_content).decode().splitlines()
    assert {json.loads(line)["username"] for line in lines} == {"alice"}
    assert client.get(links["XLSX"])["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )


def test_as_of_the_future_or_nonsense_is_refused_by_the_field(client_for, carol, world):
    client = client_for(carol)
    future = (timezone.now() + timezone.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    for query, field in (
        ({"at": future}, "at"),
        ({"at": "yesterday"}, "at"),
        ({"expiring_before": "2026-13-01T00:00"}, "expiring_before"),
    ):
        response = client.get(reverse(REPORT), query)
        assert response.status_code == 400, query
        assert field in response.context["form"].errors, query
        assert _page_rows(response) == []
        assert b"Export CSV" not in response.content


def test_unknown_filter_is_shown_by_its_field_and_lists_nothing(client_for, carol, world):
    response = client_for(carol).get(reverse(REPORT), {"user": "nobody"})
    assert response.status_code == 400
    assert response.context["form"].errors["user"] == ["No user 'nobody'."]
    assert _page_rows(response) == []
    assert b"Export CSV" not in response.content
    for bad in (
        {"access_group": "abc"},
        {"access_group": "999999"},
        {"account": "12"},
        {"user": "a\x00b"},
    ):
        assert client_for(carol).get(reverse(REPORT), bad).status_code == 400, bad


def test_report_is_paginated(client_for, carol, make_group, sandbox, dave):
    group = make_group("Wide", accounts=[sandbox])
    _in_sync(group)
    people = User.objects.bulk_create(
        User(username=f"p{i:03d}", email=f"p{i}@example.com") for i in range(60)
    )
    for person in people:
        _grant(person, group, by=dave)
    client = client_for(carol)
    first = client.get(reverse(REPORT))
    second = client.get(first.context["next_url"])
    assert len(_page_rows(first)) == 50 and len(_page_rows(second)) == 10
    assert first.context["previous_url"] is None and second.context["next_url"] is None
    assert _page_rows(client.get(second.context["previous_url"])) == _page_rows(first)
    # A numbered page from before keyset pages starts again at the first.
    assert client.get(reverse(REPORT), {"page": 2}).url == reverse(REPORT)
    assert _page_rows(client.get(reverse(REPORT), {"page": 1})) == _page_rows(first)


def _audit_rows(response) -> list[int]:
    return [
        int(s)
        for s in re.findall(
            r'<tr class="audit-row" data-sequence="(\d+)">', response.content.decode()
        )
    ]


def test_audit_log_newest_first_with_filters_matching_the_csv(
    client_for, carol, dave, alice, readonly
):
    audit_record(action="account.created", actor=dave, message="first", data={"k": "<b>"})
    audit_record(action="access_group.updated", actor=dave, obj=readonly, access_group=readonly)
    audit_record(action="request.created", actor=alice, message="<script>alert(1)</script>")
    client = client_for(carol)
    response = client.get(reverse(AUDIT))
    assert response.status_code == 200
    sequences = list(AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True))
    assert _audit_rows(response) == sequences
    assert b"<script>alert(1)</script>" not in response.content  # escaped
    assert b"&lt;script&gt;" in response.content
    assert "<dt>k</dt><dd>&lt;b&gt;</dd>" in response.content.decode()  # key/value, escaped

    for query, count in (
        ({"actor": "dave"}, 2),
        ({"action": "request.created"}, 1),
        ({"object_type": "accessgroup", "object_id": str(readonly.pk)}, 1),
        (
            {
                "since": timezone.now().date().isoformat(),
                "until": timezone.now().date().isoformat(),
            },
            3,
        ),
        ({"until": "2000-01-01"}, 0),
    ):
        response = client.get(reverse(AUDIT), query)
        assert response.status_code == 200, query
        shown = _audit_rows(response)
        assert len(shown) == count, query
        exported = _csv_rows(client, _export_url(response))
        # The API lists oldest first; the page newest first: the same events.
        assert sorted(int(r["sequence"]) for r in exported) == sorted(shown), query


def test_audit_log_bad_dates_are_shown_by_the_field(client_for, carol):
    client = client_for(carol)
    response = client.get(reverse(AUDIT), {"since": "2025-13-40"})
    assert response.status_code == 400
    assert "since" in response.context["form"].errors
    response = client.get(reverse(AUDIT), {"since": "2025-02-02", "until": "2025-02-01"})
    assert response.context["form"].errors["until"] == ["Until is before since."]
    assert client.get(reverse(AUDIT), {"actor": "x\x00"}).status_code == 400


@pytest.mark.parametrize("persona", ["alice", "bob"])
@pytest.mark.parametrize("name", [REPORT, AUDIT])
def test_requesters_and_approvers_get_403(client_for, request, readonly, persona, name):
    # bob approves ReadOnly: an approver is no auditor.
    user = request.getfixturevalue(persona)
    response = client_for(user).get(reverse(name))
    assert response.status_code == 403
    assert b"Export CSV" not in response.content


@pytest.mark.parametrize("name", [REPORT, AUDIT])
def test_admins_and_auditors_may_read(client_for, carol, dave, name):
    for user in (carol, dave):
        assert client_for(user).get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", [REPORT, AUDIT])
def test_signed_out_is_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_reports_are_get_only(client_for, carol):
    assert client_for(carol).post(reverse(REPORT)).status_code == 405


def _queries(client, url: str) -> int:
    choices.forget()  # the account filter's options are read on every count
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _fill_report(group, n: int, prefix: str, by) -> None:
    people = User.objects.bulk_create(
        User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(n)
    )
    now = timezone.now()
    Membership.objects.bulk_create(
        Membership(
            user=p,
            access_group=group,
            source=MembershipSource.ADMIN,
            granted_by=by,
            granted_at=now,
            activated_at=now,
            provisioning_status=ProvisioningStatus.IN_SYNC,
        )
        for p in people
    )


def test_report_and_audit_log_queries_do_not_grow_with_rows(
    client_for, carol, dave, make_group, sandbox
):
    group = make_group("Wide", accounts=[sandbox])
    _in_sync(group)
    client = client_for(carol)
    _fill_report(group, 5, "a", dave)
    for i in range(5):
        audit_record(action="account.created", actor=dave, message=str(i))
    few_report, few_audit = _queries(client, reverse(REPORT)), _queries(client, reverse(AUDIT))
    _fill_report(group, 95, "b", dave)
    for i in range(95):
        audit_record(action="account.created", actor=dave, message=str(i))
    assert _queries(client, reverse(REPORT)) == few_report
    assert _queries(client, reverse(AUDIT)) == few_audit
    # The pages hold the rows (50 a page), not an empty table.
    assert len(_page_rows(client.get(reverse(REPORT)))) == 50
