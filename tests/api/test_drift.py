"""Drift findings under /api/v1/drift/ and a scan on demand (who may: test_permission_matrix)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accessgroups.models import AuditEvent, DriftFinding, DriftKind, DriftResolution
from tests.api.helpers import assert_bad_input, database_fingerprint

pytestmark = pytest.mark.django_db


@pytest.fixture
def findings(readonly, alice, sandbox):
    resolved = DriftFinding.objects.create(
        kind=DriftKind.UNEXPECTED_MEMBER,
        access_group=readonly,
        principal="alice",
        user=alice,
        detail="alice is a member of the Identity Center group ReadOnly without access.",
        resolved_at=timezone.now(),
        resolution=DriftResolution.REVERTED,
    )
    still_open = DriftFinding.objects.create(
        kind=DriftKind.MISSING_ASSIGNMENT,
        access_group=readonly,
        principal="ReadOnly",
        principal_type="GROUP",
        account_id=sandbox.account_id,
        permission_set_arn="arn:ps",
        detail="ReadOnly grants account sandbox, but its permission set is not assigned there.",
    )
    return {"open": still_open, "resolved": resolved}


def test_findings_have_the_documented_shape(api, carol, findings, readonly, sandbox):
    response = api(carol).get("/api/v1/drift/")

    assert response.status_code == 200
    assert response.data["count"] == 2
    newest = response.data["results"][0]
    assert newest == {
        "id": findings["open"].pk,
        "kind": "missing_assignment",
        "access_group": readonly.pk,
        "principal": "ReadOnly",
        "account_id": sandbox.account_id,
        "detail": findings["open"].detail,
        "detected_at": newest["detected_at"],
        "resolved_at": None,
        "resolution": "",
    }
    older = response.data["results"][1]
    assert (older["kind"], older["resolution"]) == ("unexpected_member", "reverted")
    assert older["resolved_at"] is not None


def test_open_filters_open_or_resolved(api, dave, findings):
    client = api(dave)
    only_open = client.get("/api/v1/drift/", {"open": "true"}).data["results"]
    assert [f["id"] for f in only_open] == [findings["open"].pk]
    resolved = client.get("/api/v1/drift/", {"open": "false"}).data["results"]
    assert [f["id"] for f in resolved] == [findings["resolved"].pk]


def test_a_bad_open_value_is_refused_naming_the_field(api, dave, findings):
    client = api(dave)
    before = database_fingerprint()
    response = client.get("/api/v1/drift/", {"open": "maybe"})
    assert_bad_input(response, "open", before)


def test_a_scan_is_enqueued_for_a_worker_and_audited(
    api, dave, requested_syncs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(dave).post("/api/v1/drift/scan/")

    assert response.status_code == 202
    assert response.data == {"detail": "A worker is comparing Identity Center with the portal."}
    assert requested_syncs == [("drift_scan_task", (dave.pk,))]
    event = AuditEvent.objects.get(action="drift.scan_requested")
    assert event.actor_id == dave.pk


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_only_admins_ask_for_a_scan(api, request, persona, requested_syncs):
    response = api(request.getfixturevalue(persona)).post("/api/v1/drift/scan/")
    assert response.status_code == 403
    assert requested_syncs == []
