"""The audit log page names its objects with links, shows details as key/value lines, and
costs one query per object type on the page, however many rows it shows."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.access import services
from accessgroups.core.audit import audit_record
from accessgroups.web.auditor import detail_lines

pytestmark = pytest.mark.django_db

AUDIT = "web:audit-log"


def _events(alice, dave, readonly, sandbox) -> None:
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x"
    )
    audit_record(action="user.onboarded", actor=dave, obj=alice, subject=alice)
    audit_record(action="account.updated", actor=dave, obj=sandbox)
    audit_record(
        action="access_group.updated",
        actor=dave,
        obj=readonly,
        access_group=readonly,
        data={"version": {"from": 1, "to": 2}, "accounts": ["111111111111"], "requestable": True},
    )
    services.access_request_approve(access_request=request, approver=readonly.approvers.get())


def test_objects_are_named_and_linked(client_for, carol, alice, dave, readonly, sandbox):
    _events(alice, dave, readonly, sandbox)
    html = client_for(carol).get(reverse(AUDIT)).content.decode()
    assert '<a href="/reports/audit-log/?object_type=user&amp;object_id=' in html
    assert f'object_id={alice.pk}">alice</a>' in html
    assert f'object_id={sandbox.pk}">sandbox (100000000001)</a>' in html
    assert f'object_id={readonly.pk}">ReadOnly</a>' in html
    assert "alice for ReadOnly</a>" in html  # the request
    assert '<a href="/reports/audit-log/?actor=dave">dave</a>' in html
    assert "<dt>version</dt><dd>1 → 2</dd>" in html
    assert "<dt>requestable</dt><dd>yes</dd>" in html
    assert "accessgroupaccount" not in html.split("<tbody>")[1]  # no internal type names


def test_an_object_that_no_longer_resolves_keeps_its_id(client_for, carol, dave):
    from accessgroups.models import User

    audit_record(action="user.onboarded", actor=dave, obj=User(pk=999, username="ghost"))
    html = client_for(carol).get(reverse(AUDIT)).content.decode()
    assert 'object_id=999">#999</a>' in html and "ghost" not in html


def test_detail_lines():
    assert detail_lines({}) == []
    assert detail_lines({"session_duration": {"from": "PT1H", "to": "PT4H"}}) == [
        ("session duration", "PT1H → PT4H")
    ]
    assert detail_lines({"a": None, "b": [], "c": False, "d": {"x": 1}}) == [
        ("a", "—"),
        ("b", "none"),
        ("c", "no"),
        ("d", "x: 1"),
    ]
    assert detail_lines([1, 2]) == [("data", "[1, 2]")]


def test_bad_filters_get_a_summary_never_a_500(client_for, carol):
    client = client_for(carol)
    for query in (
        {"object_type": "nonsense"},
        {"since": "yesterday"},
        {"since": "2025-02-02", "until": "2025-02-01"},
        {"actor": "x" * 5000},
        {"object_id": "\x00"},
    ):
        response = client.get(reverse(AUDIT), query)
        assert response.status_code == 400, query
        html = response.content.decode()
        assert 'class="message message-error error-summary" role="alert"' in html, query
        assert "Check the filters" in html


def test_queries_do_not_grow_with_objects(
    client_for, carol, dave, make_user, make_group, make_account
):
    client = client_for(carol)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            user = make_user(f"u{i}")
            group = make_group(f"G{i}")
            account = make_account(f"acc{i}")
            audit_record(action="user.onboarded", actor=dave, obj=user, subject=user)
            audit_record(action="access_group.created", actor=dave, obj=group, access_group=group)
            audit_record(action="account.created", actor=dave, obj=account)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(AUDIT)).status_code == 200
        return len(captured)

    add(2, 0)
    few = queries()
    add(20, 2)
    assert queries() == few


def test_every_object_link_is_a_valid_filter(client_for, carol, dave, readonly, alice, grant):
    from accessgroups.models import MembershipExtension

    membership = grant(alice, readonly)
    extension = MembershipExtension.objects.create(membership=membership)
    audit_record(action="membership.extended", actor=dave, obj=extension)
    client = client_for(carol)
    html = client.get(reverse(AUDIT)).content.decode()
    assert "Membership extension" in html
    response = client.get(
        reverse(AUDIT), {"object_type": "membershipextension", "object_id": str(extension.pk)}
    )
    assert (
        response.status_code == 200
        and len(re.findall('class="audit-row"', response.content.decode())) == 1
    )
