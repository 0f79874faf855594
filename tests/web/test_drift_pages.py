"""The drift page: findings for auditors and admins, a scan on demand for admins."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accessgroups.drift.services import drift_scan_claim, drift_scan_finish
from accessgroups.models import AuditEvent, DriftFinding, DriftKind, DriftResolution
from tests.api.helpers import database_fingerprint

pytestmark = pytest.mark.django_db

PAGE = "web:drift"
SCAN = "web:drift-scan"


def _finding(group, *, n: int = 0, resolved: bool = False, detail: str = "") -> DriftFinding:
    return DriftFinding.objects.create(
        kind=DriftKind.UNEXPECTED_MEMBER,
        access_group=group,
        principal=f"USER id-{n}",
        detail=detail or f"The Identity Center user {n} is a member of {group.name}.",
        resolved_at=timezone.now() if resolved else None,
        resolution=DriftResolution.GONE if resolved else "",
    )


def _shown(response) -> list[str]:
    return re.findall(
        r'<tr class="drift-row" data-kind="[^"]*" data-id="(\d+)">', response.content.decode()
    )


def test_open_findings_by_default_resolved_and_all_on_request(client_for, carol, readonly):
    still_open = _finding(readonly, n=1)
    resolved = _finding(readonly, n=2, resolved=True)
    client = client_for(carol)

    response = client.get(reverse(PAGE))
    assert response.status_code == 200
    assert _shown(response) == [str(still_open.pk)]
    content = response.content.decode()
    assert "Member the portal did not grant" in content and "ReadOnly" in content
    assert "No scan has run yet." in content
    assert _shown(client.get(reverse(PAGE), {"show": "resolved"})) == [str(resolved.pk)]
    assert _shown(client.get(reverse(PAGE), {"show": "all"})) == [
        str(resolved.pk),
        str(still_open.pk),
    ]
    bad = client.get(reverse(PAGE), {"show": "everything"})
    assert bad.status_code == 400 and _shown(bad) == []


def test_the_last_scan_and_the_policy_are_shown(client_for, dave, settings, readonly):
    settings.DRIFT_POLICY = "report"
    scan = drift_scan_claim(policy="report")
    content = client_for(dave).get(reverse(PAGE)).content.decode()
    assert "A scan is running since" in content
    assert "only reported (DRIFT_POLICY=report)" in content
    drift_scan_finish(scan=scan, groups_scanned=3, summary={"unreadable": {"Deploy": "denied"}})
    content = client_for(dave).get(reverse(PAGE)).content.decode()
    assert "3 access groups compared; not read: Deploy." in content


@pytest.mark.parametrize("persona", ["alice", "bob", "erin"])
def test_requesters_and_approvers_get_403(client_for, request, readonly, persona):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(reverse(PAGE)).status_code == 403
    before = database_fingerprint()
    assert client.post(reverse(SCAN)).status_code == 403
    assert database_fingerprint() == before


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get(reverse(PAGE))
    assert response.status_code == 302 and "login" in response["Location"]


def test_auditors_read_but_only_admins_scan(client_for, carol, dave, requested_syncs):
    auditor = client_for(carol)
    assert "Scan now" not in auditor.get(reverse(PAGE)).content.decode()
    before = database_fingerprint()
    assert auditor.post(reverse(SCAN)).status_code == 403
    assert database_fingerprint() == before

    admin = client_for(dave)
    assert "Scan now" in admin.get(reverse(PAGE)).content.decode()
    response = admin.post(reverse(SCAN), follow=True)
    assert response.redirect_chain == [(reverse(PAGE), 302)]
    assert "A worker is comparing Identity Center with the portal" in response.content.decode()
    assert AuditEvent.objects.filter(action="drift.scan_requested", actor=dave).count() == 1
    assert admin.get(reverse(SCAN)).status_code == 405


def test_the_navigation_offers_it_to_auditors_only(client_for, alice, carol):
    assert 'href="/reports/drift/"' in client_for(carol).get("/").content.decode()
    assert 'href="/reports/drift/"' not in client_for(alice).get("/").content.decode()


def test_finding_text_is_escaped(client_for, carol, readonly):
    _finding(readonly, detail="<script>alert(1)</script>")
    content = client_for(carol).get(reverse(PAGE)).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_queries_do_not_grow_with_rows(client_for, carol, make_group):
    groups = [make_group(f"G{i}") for i in range(3)]
    client = client_for(carol)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(PAGE), {"show": "all"}).status_code == 200
        return len(captured)

    _finding(groups[0])
    few = queries()
    for n in range(1, 60):
        _finding(groups[n % 3], n=n, resolved=n % 2 == 0)
    assert queries() == few
    assert len(_shown(client.get(reverse(PAGE), {"show": "all"}))) == 50
    assert len(_shown(client.get(reverse(PAGE), {"show": "all", "page": "2"}))) == 10
