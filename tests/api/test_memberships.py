import pytest

from accessgroups.access.services import membership_activated, membership_grant
from accessgroups.models import AuditEvent, Membership, ProvisioningStatus
from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.syncs import run_enqueued

URL = "/api/v1/memberships/"


def test_admin_grant(api, dave, alice, readonly, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post(
            URL,
            {
                "user": "alice",
                "access_group": readonly.pk,
                "justification": "incident 42",
                "duration_hours": 4,
            },
            format="json",
        )
    assert response.status_code == 202, response.data
    membership = Membership.objects.get()
    assert response.data == {
        "id": membership.pk,
        "user": "alice",
        "access_group": readonly.pk,
        "access_group_name": "ReadOnly",
        "source": "admin",
        "justification": "incident 42",
        "granted_at": response.data["granted_at"],
        "granted_by": "dave",
        "expires_at": None,  # counts from activation
        "ended_at": None,
        "end_reason": "",
        "provisioning_status": "pending",
        "last_error": "",
    }
    assert run_enqueued(callbacks) == [("membership_sync_task", (membership.pk,))]
    assert (
        AuditEvent.objects.filter(action="membership.granted", actor=dave, subject=alice).count()
        == 1
    )


def test_grant_to_someone_with_active_access_extends_it(api, dave, alice, readonly):
    first = membership_grant(
        user=alice, access_group=readonly, granted_by=dave, justification="x", duration_hours=2
    )
    membership_activated(membership_id=first.pk)
    response = api(dave).post(
        URL,
        {
            "user": "alice",
            "access_group": readonly.pk,
            "justification": "longer",
            "duration_hours": 8,
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    assert response.data["id"] == first.pk
    assert Membership.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user": "nobody"}, "user"),
        ({"user": None}, "user"),
        ({"access_group": 999999}, "access_group"),
        ({"access_group": "ReadOnly"}, "access_group"),
        ({"justification": ""}, "justification"),
        ({"duration_hours": "a day"}, "duration_hours"),
        ({"duration_hours": 0}, "duration_hours"),
    ],
)
def test_grant_bad_input(api, dave, alice, readonly, change, field):
    body = {"user": "alice", "access_group": readonly.pk, "justification": "x", **change}
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.post(URL, body, format="json"), field, before)


def test_grant_without_justification_names_it(api, dave, alice, readonly):
    client = api(dave)
    before = database_fingerprint()
    response = client.post(URL, {"user": "alice", "access_group": readonly.pk}, format="json")
    assert_bad_input(response, "justification", before)


def test_revoke(api, dave, alice, readonly, django_capture_on_commit_callbacks):
    membership = membership_grant(
        user=alice, access_group=readonly, granted_by=dave, justification="x"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post(
            f"{URL}{membership.pk}/revoke/", {"comment": "left the team"}, format="json"
        )
    assert response.status_code == 202, response.data
    assert response.data["ended_at"] is not None
    assert response.data["end_reason"] == "revoked"
    assert run_enqueued(callbacks) == [("membership_sync_task", (membership.pk,))]

    client = api(dave)
    before = database_fingerprint()
    assert client.post(f"{URL}{membership.pk}/revoke/").status_code == 409
    assert database_fingerprint() == before


def test_member_gives_up_own_access(api, dave, alice, readonly):
    membership = membership_grant(
        user=alice, access_group=readonly, granted_by=dave, justification="x"
    )
    assert api(alice).post(f"{URL}{membership.pk}/revoke/").status_code == 202


def test_retry(api, dave, alice, readonly, django_capture_on_commit_callbacks):
    membership = membership_grant(
        user=alice, access_group=readonly, granted_by=dave, justification="x"
    )
    client = api(dave)
    before = database_fingerprint()
    assert client.post(f"{URL}{membership.pk}/retry/").status_code == 409
    assert database_fingerprint() == before

    Membership.objects.filter(pk=membership.pk).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error="boom"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"{URL}{membership.pk}/retry/")
    assert response.status_code == 202
    assert response.data["provisioning_status"] == "pending"
    assert run_enqueued(callbacks) == [("membership_sync_task", (membership.pk,))]


def test_who_sees_which_memberships(api, alice, bob, carol, dave, erin, readonly, make_group):
    other = make_group("Other")  # bob does not approve it
    mine = membership_grant(user=alice, access_group=readonly, granted_by=dave, justification="x")
    theirs = membership_grant(user=erin, access_group=other, granted_by=dave, justification="x")

    def seen(user, query=""):
        return sorted(m["id"] for m in api(user).get(URL + query).data["results"])

    assert seen(alice) == [mine.pk]  # the member
    assert seen(bob) == [mine.pk]  # the approver of ReadOnly: may revoke it, so sees it
    assert seen(erin) == [theirs.pk]
    assert seen(carol) == sorted([mine.pk, theirs.pk])
    assert seen(dave, "?user=erin") == [theirs.pk]
    assert seen(dave, f"?access_group={readonly.pk}") == [mine.pk]
    assert seen(dave, "?active=false") == []
    assert api(erin).get(f"{URL}{mine.pk}/").status_code == 404

    client = api(erin)
    before = database_fingerprint()
    assert client.post(f"{URL}{mine.pk}/revoke/").status_code == 404
    assert_bad_input(client.get(URL + "?active=yes"), "active", before)
    assert database_fingerprint() == before
