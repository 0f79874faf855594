"""The API with its provisioning really run: Celery tasks execute (eagerly, on commit)
against moto in-process, so the report shows access only once Identity Center has it."""

from __future__ import annotations

import pytest

from accessgroups.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "111111111111"


def test_request_to_report_through_identity_center(
    api, alice, bob, carol, dave, identity_center, tasks_run_on_commit
):
    admin, requester, approver, auditor = api(dave), api(alice), api(bob), api(carol)

    assert (
        admin.post("/api/v1/accounts/", {"account_id": ACCOUNT, "name": "sandbox"}).status_code
        == 201
    )
    created = admin.post(
        "/api/v1/access-groups/",
        {
            "name": "ReadOnly",
            "accounts": [ACCOUNT],
            "aws_managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "session_duration": "PT2H",
            "approvers": ["bob"],
        },
        format="json",
    )
    assert created.status_code == 202, created.data
    group = admin.get(f"/api/v1/access-groups/{created.data['id']}/").data
    assert group["provisioning_status"] == "in_sync", group["last_error"]
    assert group["account_status"] == [
        {
            "account_id": ACCOUNT,
            "provisioning_status": "in_sync",
            "last_error": "",
            "reason": "explicit",
        }
    ]

    asked = requester.post(
        "/api/v1/access-requests/",
        {"access_group": group["id"], "justification": "incident 42"},
        format="json",
    )
    assert asked.status_code == 201
    # Requested, not approved: nobody has access yet.
    assert auditor.get("/api/v1/reports/who-has-access/").data["count"] == 0

    assert approver.post(f"/api/v1/access-requests/{asked.data['id']}/approve/").status_code == 202
    request = requester.get(f"/api/v1/access-requests/{asked.data['id']}/").data
    assert request["status"] == "active", request["last_error"]
    assert identity_center.members("ReadOnly") == ["alice"]

    report = auditor.get("/api/v1/reports/who-has-access/").data["results"]
    assert [
        (r["username"], r["access_group"], r["account_id"], r["approved_by"]) for r in report
    ] == [("alice", "ReadOnly", ACCOUNT, "bob")]

    revoked = approver.post(f"/api/v1/access-requests/{asked.data['id']}/revoke/")
    assert revoked.status_code == 202
    assert identity_center.members("ReadOnly") == []
    assert Membership.objects.get().provisioning_status == "in_sync"  # the removal is done
    assert auditor.get("/api/v1/reports/who-has-access/").data["count"] == 0
