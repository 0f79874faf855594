import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.db.models import F
from django.utils import timezone

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_activated,
    membership_grant,
)
from accessgroups.models import AccessGroupAccount, Membership, ProvisioningStatus
from accessgroups.reports.selectors import WHO_HAS_ACCESS_COLUMNS
from tests.api.helpers import assert_bad_input, database_fingerprint

URL = "/api/v1/reports/who-has-access/"
IN_SYNC = ProvisioningStatus.IN_SYNC


def _in_sync(membership: Membership) -> Membership:
    Membership.objects.filter(pk=membership.pk).update(
        provisioning_status=IN_SYNC, synced_generation=F("generation")
    )
    membership.refresh_from_db()
    return membership


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def world(alice, bob, carol, dave, erin, make_user, make_account, make_group):
    sandbox, staging, production, old = (
        make_account(n) for n in ("sandbox", "staging", "production", "old")
    )
    group = make_group("ReadOnly", accounts=[sandbox, staging, production, old], approvers=[bob])
    AccessGroupAccount.objects.filter(access_group=group).exclude(account=production).update(
        provisioning_status=IN_SYNC
    )
    # production's assignment is still being created; old's was removed.
    AccessGroupAccount.objects.filter(access_group=group, account=old).update(
        valid_to=timezone.now()
    )

    request = access_request_approve(
        access_request=access_request_create(
            requester=alice, access_group=group, justification="x"
        ),
        approver=bob,
    )
    membership_activated(membership_id=request.membership_id)
    alices = _in_sync(Membership.objects.get(pk=request.membership_id))

    erins = membership_grant(
        user=erin, access_group=group, granted_by=dave, justification="x", duration_hours=4
    )
    membership_activated(membership_id=erins.pk)
    erins = _in_sync(erins)

    membership_grant(
        user=carol, access_group=group, granted_by=dave, justification="still provisioning"
    )
    frank = make_user("frank")
    ended = _in_sync(
        membership_grant(user=frank, access_group=group, granted_by=dave, justification="x")
    )
    Membership.objects.filter(pk=ended.pk).update(ended_at=timezone.now(), end_reason="revoked")

    archived = make_group("Gone", accounts=[sandbox], archived_at=timezone.now())
    AccessGroupAccount.objects.filter(access_group=archived).update(provisioning_status=IN_SYNC)
    _in_sync(
        Membership.objects.create(
            user=frank, access_group=archived, source="admin", granted_by=dave
        )
    )

    return {"group": group, "sandbox": sandbox, "staging": staging, "alice": alices, "erin": erins}


def _expected(world) -> list[dict]:
    rows = []
    for who, approver in (("alice", "bob"), ("erin", "dave")):
        membership = world[who]
        for account in (world["sandbox"], world["staging"]):
            rows.append(
                {
                    "username": who,
                    "email": f"{who}@example.com",
                    "access_group": "ReadOnly",
                    "permission_set": "ReadOnly",
                    "account_id": account.account_id,
                    "account_name": account.name,
                    "source": "request" if who == "alice" else "admin",
                    "granted_at": _iso(membership.granted_at),
                    "expires_at": _iso(membership.expires_at),
                    "approved_by": approver,
                    "justification": membership.justification,
                    "state": "active",
                    "ended_at": None,
                    "last_error": "",
                    "account_ou_path": "",
                }
            )
    return rows


def test_access_ended_but_not_yet_removed_stays_listed_as_removal_pending(api, carol, world):
    from accessgroups.access.services import membership_revoke

    erin = world["erin"]
    membership_revoke(membership=erin, revoked_by=erin.user)
    Membership.objects.filter(pk=erin.pk).update(last_error="AWS is throttling identitystore calls")
    erin.refresh_from_db()

    rows = api(carol).get(URL + "?format=json").data["results"]

    erins = [r for r in rows if r["username"] == "erin"]
    assert [(r["account_id"], r["state"]) for r in erins] == [
        (world["sandbox"].account_id, "removal_pending"),
        (world["staging"].account_id, "removal_pending"),
    ]
    assert erins[0]["ended_at"] == _iso(erin.ended_at)
    assert erins[0]["last_error"] == "AWS is throttling identitystore calls"
    assert {r["state"] for r in rows if r["username"] == "alice"} == {"active"}

    # Identity Center confirms the removal: the rows go.
    Membership.objects.filter(pk=erin.pk).update(
        provisioning_status=IN_SYNC, synced_generation=F("generation")
    )
    assert [r for r in api(carol).get(URL).data["results"] if r["username"] == "erin"] == []


def test_an_account_removed_from_the_group_stays_listed_until_its_assignment_is_gone(
    api, carol, world
):
    staging = AccessGroupAccount.objects.get(access_group=world["group"], account=world["staging"])
    AccessGroupAccount.objects.filter(pk=staging.pk).update(
        valid_to=timezone.now(), provisioning_status=ProvisioningStatus.PENDING
    )

    rows = api(carol).get(URL + f"?account={world['staging'].account_id}").data["results"]

    assert [(r["username"], r["state"]) for r in rows] == [
        ("alice", "removal_pending"),
        ("erin", "removal_pending"),
    ]
    assert rows[0]["ended_at"] is not None


def test_a_past_moment_has_no_removal_state(api, carol, world):
    rows = api(carol).get(URL + f"?at={_iso(timezone.now())}").data["results"]
    assert rows and {(r["state"], r["ended_at"], r["last_error"]) for r in rows} == {
        ("active", None, "")
    }


def test_json_lists_only_access_confirmed_in_identity_center(api, carol, world):
    response = api(carol).get(URL + "?format=json", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.data["count"] == 4
    assert response.data["results"] == _expected(world)
    assert response.data["results"][2]["expires_at"].endswith("Z")  # erin's grant lasts 4 hours


def test_csv_is_the_whole_report_streamed(api, dave, world):
    response = api(dave).get(URL + "?format=csv")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == list(WHO_HAS_ACCESS_COLUMNS)
    assert rows[1:] == [[row[c] or "" for c in WHO_HAS_ACCESS_COLUMNS] for row in _expected(world)]


def test_filters(api, carol, world, make_group):
    client = api(carol)

    def keys(query: str) -> list[tuple[str, str]]:
        return [(r["username"], r["account_id"]) for r in client.get(URL + query).data["results"]]

    sandbox, staging = world["sandbox"].account_id, world["staging"].account_id
    assert keys(f"?account={sandbox}") == [("alice", sandbox), ("erin", sandbox)]
    assert keys("?user=erin") == [("erin", sandbox), ("erin", staging)]
    assert keys(f"?access_group={world['group'].pk}&user=alice&account={staging}") == [
        ("alice", staging)
    ]
    assert keys(f"?access_group={make_group('Empty').pk}") == []
    csv_rows = (
        b"".join(client.get(URL + "?format=csv&user=alice").streaming_content).decode().splitlines()
    )
    assert len(csv_rows) == 3


def test_an_extension_is_attributed_to_its_approver(api, carol, dave, world):
    # Access that expires (asking again for access without expiry is refused).
    Membership.objects.filter(user=world["alice"].user, ended_at__isnull=True).update(
        expires_at=timezone.now() + timedelta(hours=1)
    )
    extension = access_request_create(
        requester=world["alice"].user, access_group=world["group"], justification="more"
    )
    access_request_approve(access_request=extension, approver=dave)
    rows = api(carol).get(URL + "?user=alice").data["results"]
    assert {r["approved_by"] for r in rows} == {"dave"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?format=xml", "format"),
        ("?account=000000000000", "account"),
        ("?access_group=abc", "access_group"),
        ("?access_group=%C2%B2", "access_group"),  # a digit to isdigit(), not to int()
        ("?access_group=999999", "access_group"),
        ("?user=nobody", "user"),
    ],
)
def test_bad_filters_name_the_parameter(api, carol, world, query, field):
    client = api(carol)
    before = database_fingerprint()
    assert_bad_input(client.get(URL + query), field, before)


def test_csv_errors_are_json(api, alice, world):
    response = api(alice).get(URL + "?format=csv")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
