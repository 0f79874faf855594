import pytest

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    access_request_reject,
    membership_activated,
)
from accessgroups.models import AccessGroup, AccessRequest, AuditEvent, Membership
from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.syncs import run_enqueued

URL = "/api/v1/access-requests/"


def _request(user, group, **fields) -> AccessRequest:
    fields.setdefault("justification", "read the logs of incident 42")
    return access_request_create(requester=user, access_group=group, **fields)


def _active(user, group, approver) -> AccessRequest:
    request = access_request_approve(access_request=_request(user, group), approver=approver)
    membership_activated(membership_id=request.membership_id)
    request.refresh_from_db()
    return request


def test_create(api, alice, readonly):
    response = api(alice).post(
        URL, {"access_group": readonly.pk, "justification": "incident 42"}, format="json"
    )
    assert response.status_code == 201, response.data
    request = AccessRequest.objects.get()
    assert response.data == {
        "id": request.pk,
        "access_group": readonly.pk,
        "access_group_name": "ReadOnly",
        "access_group_version": 1,
        "requester": "alice",
        "justification": "incident 42",
        "duration_hours": None,
        "status": "pending",
        "is_extension": False,
        "created_at": response.data["created_at"],
        "expires_at": None,
        "decisions": [],
        "approvals": 0,
        "approvals_required": 1,
        "risk": "normal",
        "break_glass": False,
        "break_glass_review": None,
        "starts_at": None,
        "last_error": "",
    }
    assert response.data["created_at"].endswith("Z")
    assert AuditEvent.objects.filter(action="request.created", actor=alice).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"access_group": "GROUP"}, "justification"),  # no justification at all
        ({"justification": "x"}, "access_group"),
        ({"access_group": "abc", "justification": "x"}, "access_group"),
        ({"access_group": 999999, "justification": "x"}, "access_group"),
        ({"access_group": 10**30, "justification": "x"}, "access_group"),
        ({"access_group": "GROUP", "justification": "   "}, "justification"),
        (
            {"access_group": "GROUP", "justification": "x", "duration_hours": "long"},
            "duration_hours",
        ),
        ({"access_group": "GROUP", "justification": "x", "duration_hours": 0}, "duration_hours"),
        (
            {"access_group": "GROUP", "justification": "x", "duration_hours": 10**9},
            "duration_hours",
        ),
        (
            {"access_group": "LIMITED", "justification": "x", "duration_hours": 9},
            "duration_hours",
        ),  # max 8
        (
            {"access_group": "LIMITED", "justification": "x"},
            "duration_hours",
        ),  # limited: say how long
        ({"access_group": "HIDDEN", "justification": "x"}, "access_group"),  # not requestable
        ({"access_group": "ARCHIVED", "justification": "x"}, "access_group"),
    ],
)
def test_create_bad_input(api, alice, readonly, limited, make_group, body, field):
    groups = {
        "GROUP": readonly.pk,
        "LIMITED": limited.pk,
        "HIDDEN": make_group("Hidden", requestable=False).pk,
        "ARCHIVED": make_group("Gone", archived_at="2024-01-01T00:00:00Z").pk,
    }
    body = {k: groups.get(v, v) if k == "access_group" else v for k, v in body.items()}
    client = api(alice)
    before = database_fingerprint()
    assert_bad_input(client.post(URL, body, format="json"), field, before)


def test_duration_within_the_maximum_is_accepted(api, alice, limited):
    response = api(alice).post(
        URL, {"access_group": limited.pk, "justification": "x", "duration_hours": 8}, format="json"
    )
    assert response.status_code == 201
    assert response.data["duration_hours"] == 8


def test_second_open_request_is_409(api, alice, readonly):
    _request(alice, readonly)
    client = api(alice)
    before = database_fingerprint()
    response = client.post(
        URL, {"access_group": readonly.pk, "justification": "again"}, format="json"
    )
    assert_bad_input(response, "access_group", before, status=409)


def test_approve(api, alice, bob, readonly, django_capture_on_commit_callbacks):
    request = _request(alice, readonly)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(bob).post(
            f"{URL}{request.pk}/approve/", {"comment": "ok for a week"}, format="json"
        )
    assert response.status_code == 202, response.data
    assert response.data["status"] == "approved"
    assert response.data["decisions"] == [
        {
            "decided_by": "bob",
            "outcome": "approve",
            "comment": "ok for a week",
            "access_group_version": 1,
            "created_at": response.data["decisions"][0]["created_at"],
        }
    ]
    membership = Membership.objects.get(user=alice, access_group=readonly)
    assert run_enqueued(callbacks) == [("membership_sync_task", (membership.pk,))]
    # Handed to the workers: the request now waits on provisioning.
    assert api(alice).get(f"{URL}{request.pk}/").data["status"] == "provisioning"


def test_approve_without_a_body(api, alice, dave, readonly):
    request = _request(alice, readonly)
    response = api(dave).post(f"{URL}{request.pk}/approve/")
    assert response.status_code == 202
    assert response.data["decisions"][0]["comment"] == ""


def test_approving_an_extension_of_active_access_is_200(api, alice, bob, readonly):
    access_request_approve(
        access_request=_request(alice, readonly, duration_hours=2), approver=bob
    )
    membership_activated(membership_id=AccessRequest.objects.get().membership_id)
    before = Membership.objects.get().expires_at
    extension = _request(alice, readonly, duration_hours=4)
    assert extension.is_extension
    response = api(bob).post(f"{URL}{extension.pk}/approve/")
    assert response.status_code == 200, response.data
    assert response.data["status"] == "active"
    assert response.data["expires_at"] > before.isoformat().replace("+00:00", "Z")
    assert Membership.objects.active().filter(user=alice, access_group=readonly).count() == 1


def test_asking_again_for_access_without_expiry_is_400(api, alice, bob, readonly):
    _active(alice, readonly, bob)
    response = api(alice).post(
        URL,
        {"access_group": readonly.pk, "justification": "more", "duration_hours": 4},
        format="json",
    )
    assert response.status_code == 400
    assert "no expiry" in response.data["access_group"][0]
    assert AccessRequest.objects.count() == 1  # nothing reaches the approvers


def test_self_approval_is_403_even_for_admins(api, dave, readonly):
    readonly.approvers.add(dave)
    request = _request(dave, readonly)
    client = api(dave)
    before = database_fingerprint()
    response = client.post(f"{URL}{request.pk}/approve/")
    assert response.status_code == 403
    assert database_fingerprint() == before


def test_deciding_twice_is_409(api, alice, bob, dave, readonly):
    request = _request(alice, readonly)
    assert api(bob).post(f"{URL}{request.pk}/approve/").status_code == 202
    client = api(dave)
    before = database_fingerprint()
    assert client.post(f"{URL}{request.pk}/reject/").status_code == 409
    assert client.post(f"{URL}{request.pk}/approve/").status_code == 409
    assert database_fingerprint() == before


def test_reject(api, alice, bob, readonly, django_capture_on_commit_callbacks):
    request = _request(alice, readonly)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(bob).post(
            f"{URL}{request.pk}/reject/", {"comment": "ask your lead"}, format="json"
        )
    assert response.status_code == 200
    assert response.data["status"] == "rejected"
    assert response.data["decisions"][0]["outcome"] == "reject"
    assert run_enqueued(callbacks) == []  # no provisioning (only the requester's mail)


def test_cancel_a_pending_request(api, alice, readonly):
    request = _request(alice, readonly)
    response = api(alice).post(f"{URL}{request.pk}/cancel/")
    assert response.status_code == 200
    assert response.data["status"] == "cancelled"


def test_cancel_an_approved_request_removes_the_access_being_set_up(
    api, alice, bob, readonly, django_capture_on_commit_callbacks
):
    request = access_request_approve(access_request=_request(alice, readonly), approver=bob)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(alice).post(f"{URL}{request.pk}/cancel/")
    assert response.status_code == 202
    membership = Membership.objects.get(pk=request.membership_id)
    assert membership.end_reason == "revoked"
    assert run_enqueued(callbacks) == [("membership_sync_task", (membership.pk,))]


def test_revoke_active_access(api, alice, bob, readonly, django_capture_on_commit_callbacks):
    request = _active(alice, readonly, bob)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(bob).post(f"{URL}{request.pk}/revoke/", {"comment": "done"}, format="json")
    assert response.status_code == 202
    assert response.data["status"] == "revoked"
    assert Membership.objects.get(pk=request.membership_id).ended_at is not None
    assert run_enqueued(callbacks) == [("membership_sync_task", (request.membership_id,))]


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("rejected", "cancel"),
        ("rejected", "approve"),
        ("rejected", "revoke"),
        ("pending", "revoke"),
        ("cancelled", "cancel"),
        ("active", "cancel"),
        ("active", "approve"),
    ],
)
def test_wrong_status_is_409_and_changes_nothing(api, alice, bob, dave, readonly, state, action):
    if state == "active":
        request = _active(alice, readonly, bob)
    else:
        request = _request(alice, readonly)
        if state == "rejected":
            access_request_reject(access_request=request, approver=bob)
        elif state == "cancelled":
            api(alice).post(f"{URL}{request.pk}/cancel/")
    client = api(dave)
    before = database_fingerprint()
    assert client.post(f"{URL}{request.pk}/{action}/").status_code == 409
    assert database_fingerprint() == before


def test_outsiders_do_not_see_a_request(api, alice, erin, readonly):
    request = _request(alice, readonly)
    client = api(erin)
    before = database_fingerprint()
    assert client.get(f"{URL}{request.pk}/").status_code == 404
    for action in ("approve", "reject", "cancel", "revoke"):
        assert client.post(f"{URL}{request.pk}/{action}/").status_code == 404
    assert client.get(URL).data["count"] == 0
    assert database_fingerprint() == before


def test_a_comment_must_be_text(api, alice, bob, readonly):
    request = _request(alice, readonly)
    client = api(bob)
    before = database_fingerprint()
    assert_bad_input(
        client.post(f"{URL}{request.pk}/approve/", {"comment": ["ok"]}, format="json"),
        "comment",
        before,
    )
    assert_bad_input(
        client.post(f"{URL}{request.pk}/approve/", ["ok"], format="json"),
        "non_field_errors",
        before,
    )


def test_malformed_json_is_400(api, alice, readonly):
    client = api(alice)
    before = database_fingerprint()
    response = client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert database_fingerprint() == before


def test_lists_show_what_each_role_may_see(api, alice, bob, carol, erin, readonly, make_group):
    other = make_group("Other")  # bob does not approve it
    _request(alice, readonly)
    _request(erin, other)
    names = lambda client, query="": sorted(  # noqa: E731
        (r["requester"], r["access_group_name"]) for r in client.get(URL + query).data["results"]
    )
    assert names(api(alice)) == [("alice", "ReadOnly")]
    assert names(api(bob)) == [("alice", "ReadOnly")]
    assert names(api(bob), "?decidable=true") == [("alice", "ReadOnly")]
    assert names(api(alice), "?decidable=true") == []
    assert names(api(carol)) == [("alice", "ReadOnly"), ("erin", "Other")]
    assert names(api(carol), f"?access_group={other.pk}") == [("erin", "Other")]
    assert names(api(carol), "?requester=alice&status=pending") == [("alice", "ReadOnly")]
    assert names(api(carol), "?status=active") == []
    client = api(carol)
    before = database_fingerprint()
    assert_bad_input(client.get(URL + "?status=odd"), "status", before)
    assert_bad_input(client.get(URL + "?access_group=x"), "access_group", before)
    assert_bad_input(client.get(URL, {"access_group": "²"}), "access_group", before)


def test_archived_group_cannot_be_approved(api, alice, bob, dave, readonly):
    request = _request(alice, readonly)
    AccessGroup.objects.filter(pk=readonly.pk).update(archived_at="2024-01-01T00:00:00Z")
    client = api(bob)
    before = database_fingerprint()
    assert client.post(f"{URL}{request.pk}/approve/").status_code == 409
    assert database_fingerprint() == before
