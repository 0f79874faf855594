"""The approval policies through /api/v1/: configured on access groups, met by requests."""

import pytest

from accessgroups.access.services import access_request_create, membership_activated
from accessgroups.models import AccessGroup, AuditEvent
from tests.api.helpers import assert_bad_input, database_fingerprint

GROUPS = "/api/v1/access-groups/"
REQUESTS = "/api/v1/access-requests/"
WHY = "production is down, incident 42"


@pytest.fixture
def prod(make_group, sandbox, bob, erin):
    return make_group("Prod", accounts=[sandbox], approvers=[bob, erin], approvals_required=2)


@pytest.fixture
def oncall(make_group, sandbox, bob):
    return make_group("OnCall", accounts=[sandbox], approvers=[bob], break_glass=True)


def test_policies_are_read_and_changed_by_admins(api, dave, bob, erin, readonly):
    response = api(dave).patch(
        f"{GROUPS}{readonly.pk}/",
        {
            "approvers": ["bob", "erin"],
            "approvals_required": 2,
            "break_glass": True,
            "risk": "high",
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    assert (
        response.data["approvals_required"],
        response.data["break_glass"],
        response.data["risk"],
    ) == (2, True, "high")
    assert response.data["auto_approve"] is False and response.data["suggested_risk"] == "normal"
    event = AuditEvent.objects.filter(action="access_group.updated").latest("sequence")
    assert event.data["approvals_required"] == {"from": 1, "to": 2}
    assert event.data["break_glass"] == {"from": False, "to": True}


def test_a_quorum_over_the_possible_approvers_is_refused(api, dave, readonly):
    client = api(dave)
    before = database_fingerprint()
    response = client.patch(f"{GROUPS}{readonly.pk}/", {"approvals_required": 3}, format="json")
    assert_bad_input(response, "approvals_required", before)
    assert "only 1 possible approver" in str(response.data["approvals_required"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"approvals_required": 6}, "approvals_required"),
        ({"approvals_required": 0}, "approvals_required"),
        ({"risk": "extreme"}, "risk"),
        ({"auto_approve": True, "risk": "high"}, "auto_approve"),
    ],
)
def test_bad_policies(api, dave, readonly, body, field):
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.patch(f"{GROUPS}{readonly.pk}/", body, format="json"), field, before)


def test_a_quorum_through_the_api(api, alice, bob, erin, prod):
    request = access_request_create(requester=alice, access_group=prod, justification="x")
    first = api(bob).post(
        f"{REQUESTS}{request.pk}/approve/", {"access_group_version": 1}, format="json"
    )
    assert first.status_code == 200, first.data
    assert (first.data["status"], first.data["approvals"], first.data["approvals_required"]) == (
        "pending",
        1,
        2,
    )
    again = api(bob).post(f"{REQUESTS}{request.pk}/approve/", {}, format="json")
    assert again.status_code == 409
    last = api(erin).post(f"{REQUESTS}{request.pk}/approve/", {"comment": "ok"}, format="json")
    assert last.status_code == 202, last.data
    assert (last.data["status"], last.data["approvals"]) == ("approved", 2)
    assert [d["decided_by"] for d in last.data["decisions"]] == ["bob", "erin"]


def test_a_high_risk_approval_without_a_comment_is_refused(api, alice, bob, make_group):
    group = make_group("Admins", approvers=[bob], risk="high")
    request = access_request_create(requester=alice, access_group=group, justification="x")
    assert api(alice).get(f"{REQUESTS}{request.pk}/").data["risk"] == "high"
    client = api(bob)
    before = database_fingerprint()
    assert_bad_input(
        client.post(f"{REQUESTS}{request.pk}/approve/", {}, format="json"), "comment", before
    )
    ok = client.post(f"{REQUESTS}{request.pk}/approve/", {"comment": "checked"}, format="json")
    assert ok.status_code == 202


def test_an_automatic_approval_has_no_person(api, alice, make_group):
    group = make_group("Sandbox", auto_approve=True)
    response = api(alice).post(
        REQUESTS, {"access_group": group.pk, "justification": "try"}, format="json"
    )
    assert response.status_code == 201, response.data
    assert response.data["status"] in ("approved", "provisioning")
    assert response.data["approvals"] == 1
    [decision] = response.data["decisions"]
    assert (decision["outcome"], decision["decided_by"]) == ("auto", None)


def test_break_glass_is_granted_and_reviewed(api, alice, bob, oncall, settings):
    settings.BREAK_GLASS_MAX_HOURS = 4
    response = api(alice).post(
        REQUESTS,
        {"access_group": oncall.pk, "justification": WHY, "break_glass": True},
        format="json",
    )
    assert response.status_code == 201, response.data
    body = response.data
    assert body["break_glass"] is True and body["duration_hours"] == 4
    assert body["status"] in ("approved", "provisioning") and body["decisions"] == []
    assert (
        body["break_glass_review"]["reviewed_at"] is None and body["break_glass_review"]["due_at"]
    )
    pk = body["id"]

    assert [
        r["id"] for r in api(bob).get(f"{REQUESTS}?break_glass_review_pending=true").data["results"]
    ] == [pk]
    assert api(alice).get(f"{REQUESTS}?break_glass_review_pending=true").data["results"] == []
    client = api(alice)
    before = database_fingerprint()
    refused = client.post(f"{REQUESTS}{pk}/acknowledge/", {}, format="json")
    assert refused.status_code == 403 and database_fingerprint() == before

    done = api(bob).post(f"{REQUESTS}{pk}/acknowledge/", {"comment": "seen"}, format="json")
    assert done.status_code == 200, done.data
    assert done.data["break_glass_review"]["reviewed_by"] == "bob"
    assert done.data["break_glass_review"]["outcome"] == "acknowledged"
    assert api(bob).post(f"{REQUESTS}{pk}/acknowledge/", {}, format="json").status_code == 409
    assert api(bob).get(f"{REQUESTS}?break_glass_review_pending=true").data["results"] == []


def test_break_glass_revoked_by_an_approver(api, alice, bob, oncall):
    request = access_request_create(
        requester=alice, access_group=oncall, justification=WHY, break_glass=True
    )
    membership_activated(membership_id=request.membership_id)
    response = api(bob).post(f"{REQUESTS}{request.pk}/revoke/", {"comment": "no"}, format="json")
    assert response.status_code == 202, response.data
    assert response.data["status"] == "revoked"
    assert response.data["break_glass_review"]["outcome"] == "revoked"


def test_break_glass_on_a_group_without_it_is_forbidden(api, alice, readonly):
    client = api(alice)
    before = database_fingerprint()
    response = client.post(
        REQUESTS,
        {"access_group": readonly.pk, "justification": WHY, "break_glass": True},
        format="json",
    )
    assert response.status_code == 403
    assert database_fingerprint() == before


def test_break_glass_needs_a_longer_justification(api, alice, oncall):
    client = api(alice)
    before = database_fingerprint()
    response = client.post(
        REQUESTS,
        {"access_group": oncall.pk, "justification": "down", "break_glass": True},
        format="json",
    )
    assert_bad_input(response, "justification", before)


def test_acknowledging_an_ordinary_request_is_a_conflict(api, alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    assert (
        api(bob).post(f"{REQUESTS}{request.pk}/acknowledge/", {}, format="json").status_code == 409
    )


def test_create_takes_every_policy(api, dave, bob, erin, accounts):
    response = api(dave).post(
        GROUPS,
        {
            "name": "Pair",
            "approvers": ["bob", "erin"],
            "approvals_required": 2,
            "risk": "low",
            "break_glass": True,
        },
        format="json",
    )
    assert response.status_code == 202, response.data
    group = AccessGroup.objects.get(name="Pair")
    assert (group.approvals_required, group.risk, group.break_glass, group.auto_approve) == (
        2,
        "low",
        True,
        False,
    )
    created = AuditEvent.objects.get(action="access_group.created")
    assert created.data["approvals_required"] == 2 and created.data["risk"] == "low"
