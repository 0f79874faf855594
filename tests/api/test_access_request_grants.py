"""GET /api/v1/access-requests/{id}/ says what approving the request grants, in full."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accessgroups.access import services
from accessgroups.models import AccessGroupAccount, AccessGroupPolicy, PolicyKind

pytestmark = pytest.mark.django_db

ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture
def admins(make_group, make_account, bob):
    group = make_group(
        "Admins",
        accounts=[make_account("sandbox"), make_account("prod")],
        approvers=[bob],
        policies=(
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/IAMFullAccess",
        ),
        session_duration="PT4H",
    )
    AccessGroupPolicy.objects.create(access_group=group, kind=PolicyKind.INLINE, document=ADMIN)
    AccessGroupPolicy.objects.create(
        access_group=group, kind=PolicyKind.CUSTOMER_MANAGED, name="Deploy", path="/team/"
    )
    return group


def test_detail_has_the_grants(api, alice, bob, admins):
    request = services.access_request_create(
        requester=alice, access_group=admins, justification="x", duration_hours=4
    )
    body = api(bob).get(f"/api/v1/access-requests/{request.pk}/").json()
    grants = body["grants"]
    assert body["requester"] == "alice"  # existing fields unchanged
    assert grants["accounts"] == [
        {"account_id": "100000000002", "name": "prod", "label": "prod (100000000002)"},
        {"account_id": "100000000001", "name": "sandbox", "label": "sandbox (100000000001)"},
    ]
    assert grants["aws_managed_policies"] == [
        {"arn": "arn:aws:iam::aws:policy/IAMFullAccess", "name": "IAMFullAccess", "risk": "high"},
        {
            "arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "name": "ReadOnlyAccess",
            "risk": "normal",
        },
    ]
    assert grants["customer_managed_policies"] == [{"name": "Deploy", "path": "/team/"}]
    assert grants["inline_policy"] == ADMIN and grants["inline_policy_risk"] == "high"
    assert grants["session_duration"] == "PT4H" and grants["session_duration_label"] == "4 hours"
    assert grants["risk"] == "high"
    assert grants["duration_hours"] == 4 and grants["duration_label"] == "4 hours"
    assert grants["expires_at"] is None and grants["is_extension"] is False
    assert grants["current_membership"] is None


def test_an_extension_shows_what_the_requester_holds(api, alice, bob, readonly, grant):
    from datetime import timedelta

    from django.utils import timezone

    held = grant(alice, readonly, expires_at=timezone.now() + timedelta(hours=2))
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=3
    )
    grants = api(bob).get(f"/api/v1/access-requests/{request.pk}/").json()["grants"]
    assert grants["is_extension"] is True and grants["risk"] == "normal"
    assert grants["current_membership"]["id"] == held.pk
    assert grants["current_membership"]["expires_at"] is not None
    assert grants["inline_policy"] is None and grants["customer_managed_policies"] == []


def test_the_list_is_unchanged(api, alice, bob, readonly):
    services.access_request_create(requester=alice, access_group=readonly, justification="x")
    row = api(bob).get("/api/v1/access-requests/").json()["results"][0]
    assert "grants" not in row


def test_detail_queries_do_not_grow_with_accounts_and_policies(
    api, alice, bob, admins, make_account
):
    request = services.access_request_create(
        requester=alice, access_group=admins, justification="x"
    )
    client = api(bob)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/api/v1/access-requests/{request.pk}/").status_code == 200
        return len(captured)

    few = queries()
    for _ in range(10):
        AccessGroupAccount.objects.create(access_group=admins, account=make_account())
    assert queries() == few


def test_the_schema_describes_grants(api, dave):
    import yaml

    schema = yaml.safe_load(api(dave).get("/api/schema/").content)
    grants = schema["components"]["schemas"]["GrantsOut"]["properties"]
    assert {
        "accounts",
        "aws_managed_policies",
        "inline_policy",
        "current_membership",
    } <= grants.keys()
