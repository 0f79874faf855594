import pytest

from accessgroups.models import AuditEvent
from tests.api.helpers import assert_bad_input, database_fingerprint
from tests.syncs import run_enqueued


def test_create_account_by_hand(api, dave, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post(
            "/api/v1/accounts/",
            {"account_id": "123456789012", "name": "billing", "email": "aws@example.com"},
            format="json",
        )
    assert response.status_code == 201, response.data
    assert response.data == {
        "account_id": "123456789012",
        "name": "billing",
        "email": "aws@example.com",
        "status": "ACTIVE",
        "source": "manual",
        "ou_id": None,
        "ou_path": "",
    }
    assert callbacks == []  # nothing to do in AWS for a hand-entered account
    assert AuditEvent.objects.filter(action="account.created", actor=dave).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account_id": "12345", "name": "short"}, "account_id"),
        ({"account_id": "12345678901a", "name": "letters"}, "account_id"),
        # The schema says a string: a JSON number is refused, not coerced (an id with a
        # leading zero would lose it).
        ({"account_id": 123456789012, "name": "number"}, "account_id"),
        ({"account_id": "١٢٣٤٥٦٧٨٩٠١٢", "name": "arabic-indic"}, "account_id"),
        ({"account_id": ["123456789012"], "name": "list"}, "account_id"),
        ({"account_id": "123456789012"}, "name"),
        ({"account_id": "123456789012", "name": "x", "email": "nope"}, "email"),
        ({"account_id": "100000000001", "name": "taken"}, "account_id"),
    ],
)
def test_bad_account_input(api, dave, sandbox, body, field):
    client = api(dave)
    before = database_fingerprint()
    response = client.post("/api/v1/accounts/", body, format="json")
    assert_bad_input(response, field, before)


def test_accounts_are_read_by_everyone_and_looked_up_by_account_id(api, alice, sandbox):
    response = api(alice).get("/api/v1/accounts/")
    assert response.status_code == 200
    assert [a["account_id"] for a in response.data["results"]] == [sandbox.account_id]
    assert api(alice).get(f"/api/v1/accounts/{sandbox.account_id}/").data["name"] == "sandbox"
    assert api(alice).get("/api/v1/accounts/999999999999/").status_code == 404
    assert api(alice).get("/api/v1/accounts/not-a-number/").status_code == 404


def test_sync_answers_202_and_enqueues_the_organizations_read(
    api, dave, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(dave).post("/api/v1/accounts/sync/")
    assert response.status_code == 202
    assert run_enqueued(callbacks) == [("accounts_sync_task", (dave.pk,))]
    assert AuditEvent.objects.filter(action="account.sync_requested", actor=dave).exists()
