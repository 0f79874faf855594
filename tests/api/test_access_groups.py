import json

import pytest

from accessgroups.access.services import access_request_create, membership_grant
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessRequest,
    AuditEvent,
    Membership,
)
from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.syncs import run_enqueued

INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@pytest.fixture
def accounts(make_account):
    return [make_account("sandbox"), make_account("staging"), make_account("production")]


@pytest.fixture
def body(accounts, bob):
    return {
        "name": "Developers",
        "description": "Build things",
        "accounts": [accounts[0].account_id, accounts[1].account_id],
        "aws_managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"],
        "customer_managed_policies": [{"name": "deploy", "path": "/team/"}],
        "inline_policy": INLINE,
        "session_duration": "PT4H",
        "approvers": ["bob"],
        "requestable": True,
        "max_duration_hours": 8,
        "applications_note": "Grafana, by hand",
    }


@pytest.fixture
def developers(api, dave, body):
    response = api(dave).post("/api/v1/access-groups/", body, format="json")
    assert response.status_code == 202, response.data
    return AccessGroup.objects.get(pk=response.data["id"])


def test_create_with_every_policy_kind(
    api, dave, body, accounts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post("/api/v1/access-groups/", body, format="json")

    assert response.status_code == 202, response.data
    group = AccessGroup.objects.get(name="Developers")
    sandbox, staging = accounts[0].account_id, accounts[1].account_id
    assert response.data == {
        "id": group.pk,
        "name": "Developers",
        "description": "Build things",
        "accounts": sorted([sandbox, staging]),
        "organizational_units": [],
        "aws_managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"],
        "customer_managed_policies": [{"name": "deploy", "path": "/team/"}],
        "inline_policy": INLINE,
        "session_duration": "PT4H",
        "approvers": ["bob"],
        "approver_groups": [],
        "eligible_groups": [],
        "may_request": True,
        "requestable": True,
        "max_duration_hours": 8,
        "applications_note": "Grafana, by hand",
        # PowerUserAccess: the portal suggests high risk, and takes it when not told.
        "approvals_required": 1,
        "auto_approve": False,
        "break_glass": False,
        "risk": "high",
        "suggested_risk": "high",
        "provisioning_status": "pending",
        "last_error": "",
        "account_status": [
            {"account_id": a, "provisioning_status": "pending", "last_error": "", "reason": "explicit"}
            for a in sorted([sandbox, staging])
        ],
        "archived_at": None,
    }
    assert run_enqueued(callbacks) == [("access_group_sync_task", (group.pk,))]
    assert (
        AuditEvent.objects.filter(
            action="access_group.created", access_group=group, actor=dave
        ).count()
        == 1
    )


def test_create_with_only_a_name_takes_the_defaults(api, dave):
    response = api(dave).post(
        "/api/v1/access-groups/", {"name": "Empty", "requestable": False}, format="json"
    )
    assert response.status_code == 202, response.data
    assert response.data["session_duration"] == "PT1H"
    assert response.data["accounts"] == [] and response.data["inline_policy"] is None
    assert response.data["max_duration_hours"] is None


def _too_large_policy() -> dict:
    statements = [
        {"Effect": "Allow", "Action": f"s3:GetObject{i}", "Resource": f"arn:aws:s3:::bucket-{i}/*"}
        for i in range(250)
    ]
    return {"Version": "2012-10-17", "Statement": statements}


BAD_INPUTS = [
    ({"name": "has space"}, "name"),
    ({"name": "x" * 33}, "name"),
    ({"name": "Dévelopers"}, "name"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"session_duration": "PT30M"}, "session_duration"),
    ({"session_duration": "PT13H"}, "session_duration"),
    ({"session_duration": "garbage"}, "session_duration"),
    ({"session_duration": 4}, "session_duration"),
    ({"aws_managed_policies": ["arn:aws:iam::123456789012:policy/Mine"]}, "aws_managed_policies"),
    ({"aws_managed_policies": ["ReadOnlyAccess"]}, "aws_managed_policies"),
    ({"aws_managed_policies": READ_ONLY}, "aws_managed_policies"),  # a string, not a list
    (
        {
            "aws_managed_policies": [f"arn:aws:iam::aws:policy/P{i}" for i in range(20)]
        },  # + 1 customer = 21
        "aws_managed_policies",
    ),
    ({"customer_managed_policies": [{"path": "/team/"}]}, "customer_managed_policies"),
    (
        {"customer_managed_policies": [{"name": "deploy", "path": "team"}]},
        "customer_managed_policies",
    ),
    ({"customer_managed_policies": ["deploy"]}, "customer_managed_policies"),
    ({"inline_policy": {"Version": "2012-10-17"}}, "inline_policy"),  # no Statement
    ({"inline_policy": _too_large_policy()}, "inline_policy"),
    ({"inline_policy": "not json"}, "inline_policy"),
    ({"inline_policy": [INLINE]}, "inline_policy"),
    ({"inline_policy": {**INLINE, "Sid": "a\x00b"}}, "inline_policy"),
    ({"accounts": ["000000000000"]}, "accounts"),  # unknown
    ({"accounts": ["12"]}, "accounts"),
    ({"accounts": "100000000001"}, "accounts"),  # a string, not a list
    ({"approvers": ["nobody"]}, "approvers"),
    ({"max_duration_hours": 0}, "max_duration_hours"),
    ({"max_duration_hours": -3}, "max_duration_hours"),
    ({"max_duration_hours": "eight"}, "max_duration_hours"),
    ({"max_duration_hours": 10**12}, "max_duration_hours"),
    ({"requestable": "perhaps"}, "requestable"),
]


def test_too_large_policy_fixture_is_too_large_and_otherwise_valid():
    # So that the case above fails for its size, not for its shape.
    document = _too_large_policy()
    assert len(json.dumps(document, separators=(",", ":"))) > 10_240
    assert len(json.dumps(document).encode()) < 32_768


@pytest.mark.parametrize(("change", "field"), BAD_INPUTS)
def test_create_bad_input_names_the_field_and_changes_nothing(api, dave, body, change, field):
    client = api(dave)
    before = database_fingerprint()
    response = client.post("/api/v1/access-groups/", {**body, **change}, format="json")
    assert_bad_input(response, field, before)


def test_duplicate_name_is_refused(api, dave, body, developers):
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(
        client.post("/api/v1/access-groups/", {**body, "name": "developers"}, format="json"),
        "name",
        before,
    )


def test_quota_of_twenty_is_accepted(api, dave, body):
    body = {**body, "aws_managed_policies": [f"arn:aws:iam::aws:policy/P{i}" for i in range(19)]}
    assert api(dave).post("/api/v1/access-groups/", body, format="json").status_code == 202


def test_patch_name_is_refused(api, dave, developers):
    client = api(dave)
    before = database_fingerprint()
    response = client.patch(
        f"/api/v1/access-groups/{developers.pk}/", {"name": "Renamed"}, format="json"
    )
    assert_bad_input(response, "name", before)


@pytest.mark.parametrize(("change", "field"), [c for c in BAD_INPUTS if "name" not in c[0]])
def test_patch_bad_input_changes_nothing(api, dave, developers, change, field):
    client = api(dave)
    before = database_fingerprint()
    response = client.patch(f"/api/v1/access-groups/{developers.pk}/", change, format="json")
    if change.get("aws_managed_policies") and len(change["aws_managed_policies"]) == 20:
        field = "aws_managed_policies"
    assert_bad_input(response, field, before)


def test_patch_accounts_keeps_history(
    api, dave, developers, accounts, django_capture_on_commit_callbacks
):
    sandbox, staging, production = (a.account_id for a in accounts)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).patch(
            f"/api/v1/access-groups/{developers.pk}/",
            {"accounts": [staging, production]},
            format="json",
        )
    assert response.status_code == 202, response.data
    assert response.data["accounts"] == sorted([staging, production])
    # Untouched fields stay as they were: PATCH changes only what was sent.
    assert response.data["aws_managed_policies"] == ["arn:aws:iam::aws:policy/PowerUserAccess"]
    assert response.data["inline_policy"] == INLINE
    ended = AccessGroupAccount.objects.get(access_group=developers, account__account_id=sandbox)
    assert ended.valid_to is not None
    assert run_enqueued(callbacks) == [("access_group_sync_task", (developers.pk,))]


def test_patch_policies(api, dave, developers):
    response = api(dave).patch(
        f"/api/v1/access-groups/{developers.pk}/",
        {
            "aws_managed_policies": [READ_ONLY],
            "customer_managed_policies": [{"name": "reader"}],
            "inline_policy": None,
        },
        format="json",
    )
    assert response.status_code == 202, response.data
    assert response.data["aws_managed_policies"] == [READ_ONLY]
    assert response.data["customer_managed_policies"] == [{"name": "reader", "path": "/"}]
    assert response.data["inline_policy"] is None
    assert developers.policies.filter(valid_to__isnull=False).count() == 3  # old versions kept


def test_patch_approvers_only_needs_no_aws_work(
    api, dave, developers, erin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).patch(
            f"/api/v1/access-groups/{developers.pk}/", {"approvers": ["erin"]}, format="json"
        )
    assert response.status_code == 200, response.data
    assert response.data["approvers"] == ["erin"]
    assert callbacks == []


def test_patch_with_the_same_name_is_fine(api, dave, developers):
    response = api(dave).patch(
        f"/api/v1/access-groups/{developers.pk}/",
        {"name": "Developers", "description": "New"},
        format="json",
    )
    assert response.status_code == 202
    assert response.data["description"] == "New"


def test_put_is_not_offered(api, dave, developers, body):
    assert (
        api(dave).put(f"/api/v1/access-groups/{developers.pk}/", body, format="json").status_code
        == 405
    )


def test_delete_archives(api, dave, alice, erin, developers, django_capture_on_commit_callbacks):
    pending = access_request_create(
        requester=alice, access_group=developers, justification="x", duration_hours=2
    )
    membership = membership_grant(
        user=erin, access_group=developers, granted_by=dave, justification="on call"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).delete(f"/api/v1/access-groups/{developers.pk}/")

    assert response.status_code == 202, response.data
    assert response.data["archived_at"] is not None
    assert response.data["requestable"] is False
    assert response.data["accounts"] == []
    assert AccessRequest.objects.get(pk=pending.pk).status == "cancelled"
    assert Membership.objects.get(pk=membership.pk).end_reason == "archived"
    assert AccessGroup.objects.filter(pk=developers.pk).exists()  # kept for history
    assert run_enqueued(callbacks) == [("access_group_sync_task", (developers.pk,))]

    client = api(alice)
    assert [g["name"] for g in client.get("/api/v1/access-groups/").data["results"]] == []
    assert [
        g["name"] for g in client.get("/api/v1/access-groups/?archived=true").data["results"]
    ] == ["Developers"]
    assert client.get(f"/api/v1/access-groups/{developers.pk}/").status_code == 200

    admin = api(dave)
    before = database_fingerprint()
    assert admin.delete(f"/api/v1/access-groups/{developers.pk}/").status_code == 409
    assert (
        admin.patch(
            f"/api/v1/access-groups/{developers.pk}/", {"description": "x"}, format="json"
        ).status_code
        == 409
    )
    assert database_fingerprint() == before


def test_list_filters_are_checked(api, alice, developers):
    client = api(alice)
    before = database_fingerprint()
    assert_bad_input(client.get("/api/v1/access-groups/?archived=maybe"), "archived", before)
    assert_bad_input(
        client.get("/api/v1/access-groups/?provisioning_status=odd"), "provisioning_status", before
    )
    assert client.get("/api/v1/access-groups/?archived=all").data["count"] == 1


def test_retry_of_a_group_that_has_not_failed_is_409(api, dave, developers):
    client = api(dave)
    before = database_fingerprint()
    assert client.post(f"/api/v1/access-groups/{developers.pk}/retry/").status_code == 409
    assert database_fingerprint() == before


def test_unknown_group_is_404(api, alice, dave):
    assert api(alice).get("/api/v1/access-groups/424242/").status_code == 404
    assert (
        api(dave)
        .patch("/api/v1/access-groups/424242/", {"description": "x"}, format="json")
        .status_code
        == 404
    )
    assert api(dave).delete("/api/v1/access-groups/424242/").status_code == 404
