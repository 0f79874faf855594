import pytest

from accessgroups.access.services import membership_grant
from accessgroups.models import AuditEvent, Membership, ProvisioningStatus, User
from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.syncs import run_enqueued

FRANK = {
    "username": "frank",
    "email": "frank@example.com",
    "given_name": "Frank",
    "family_name": "Example",
    "roles": ["auditor"],
}


def test_onboard_answers_202_with_the_row_and_enqueues_onboarding(
    api, dave, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post("/api/v1/users/", FRANK, format="json")

    assert response.status_code == 202, response.data
    frank = User.objects.get(username="frank")
    assert response.data == {
        "id": frank.pk,
        "username": "frank",
        "email": "frank@example.com",
        "given_name": "Frank",
        "family_name": "Example",
        "display_name": "Frank Example",
        "roles": ["auditor"],
        "is_active": True,
        "identity_center_user_id": "",
        "external_id": "",
        "provisioning_status": "pending",
        "last_error": "",
    }
    assert run_enqueued(callbacks) == [("user_onboard_task", (frank.pk,))]
    assert AuditEvent.objects.filter(
        action="user.onboarded", object_id=str(frank.pk), actor=dave
    ).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": None}, "email"),
        ({"username": "frånk"}, "username"),
        ({"username": "f" * 151}, "username"),
        ({"given_name": ""}, "given_name"),
        ({"family_name": "   "}, "family_name"),
        ({"roles": ["root"]}, "roles"),
        ({"roles": "admin"}, "roles"),
        ({"username": "alice"}, "username"),  # taken
        ({"email": "ALICE@example.com"}, "email"),  # taken, compared without case
        ({"username": "a\x00b"}, "username"),
    ],
)
def test_onboard_bad_input_names_the_field_and_changes_nothing(api, dave, alice, change, field):
    body = {**FRANK, **change}
    client = api(dave)
    before = database_fingerprint()
    response = client.post("/api/v1/users/", body, format="json")
    assert_bad_input(response, field, before)


def test_missing_field_is_named(api, dave):
    body = {k: v for k, v in FRANK.items() if k != "family_name"}
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.post("/api/v1/users/", body, format="json"), "family_name", before)


def test_users_list_is_paginated_for_auditors(api, carol, alice, bob):
    response = api(carol).get("/api/v1/users/")
    assert response.status_code == 200
    assert set(response.data) == {"count", "next", "previous", "results"}
    assert [u["username"] for u in response.data["results"]] == ["alice", "bob", "carol"]
    assert response.data["results"][2]["roles"] == ["auditor"]


def test_unknown_user_is_404(api, carol):
    assert api(carol).get("/api/v1/users/999999/").status_code == 404
    assert api(carol).get("/api/v1/users/99999999999999999999999/").status_code == 404


def test_retry_of_a_row_that_has_not_failed_is_409(api, dave, alice):
    client = api(dave)
    before = database_fingerprint()
    response = client.post(f"/api/v1/users/{alice.pk}/retry/")
    assert response.status_code == 409
    assert database_fingerprint() == before


def test_retry_of_a_failed_onboarding(api, dave, alice, django_capture_on_commit_callbacks):
    User.objects.filter(pk=alice.pk).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error="no such store"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post(f"/api/v1/users/{alice.pk}/retry/")
    assert response.status_code == 202
    assert response.data["provisioning_status"] == "pending"
    assert run_enqueued(callbacks) == [("user_onboard_task", (alice.pk,))]


def test_deactivate_revokes_all_access(
    api, dave, alice, make_group, sandbox, django_capture_on_commit_callbacks
):
    group = make_group("ReadOnly", accounts=[sandbox])
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="on call"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post(f"/api/v1/users/{alice.pk}/deactivate/")
    assert response.status_code == 202
    assert response.data["is_active"] is False
    membership.refresh_from_db()
    assert membership.end_reason == "deactivated"
    assert ("membership_sync_task", (membership.pk,)) in run_enqueued(callbacks)


def test_an_admin_cannot_deactivate_themselves(api, dave):
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.post(f"/api/v1/users/{dave.pk}/deactivate/"), "user", before)


def test_a_deactivated_users_token_stops_working(api, alice, dave):
    client = api(alice)
    assert client.get("/api/v1/access-groups/").status_code == 200
    api(dave).post(f"/api/v1/users/{alice.pk}/deactivate/")
    assert client.get("/api/v1/access-groups/").status_code == 401


def test_memberships_are_not_touched_by_a_refused_deactivation(
    api, alice, bob, make_group, sandbox, dave
):
    group = make_group("ReadOnly", accounts=[sandbox])
    membership_grant(user=alice, access_group=group, granted_by=dave, justification="on call")
    response = api(bob).post(f"/api/v1/users/{alice.pk}/deactivate/")
    assert response.status_code == 403
    assert Membership.objects.active().filter(user=alice).count() == 1
