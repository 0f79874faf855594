"""Who had access at a past moment, answered from the dated history, not the current state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from accessgroups.models import (
    AccessGroupAccount,
    AccessRequest,
    Decision,
    DecisionOutcome,
    EndReason,
    Membership,
    MembershipExtension,
    MembershipSource,
    ProvisioningStatus,
    RequestStatus,
)
from accessgroups.reports.selectors import who_has_access
from tests.workflow import approved_and_active

URL = "/api/v1/reports/who-has-access/"
IN_SYNC = ProvisioningStatus.IN_SYNC


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


@pytest.fixture
def history(make_account, make_group, alice, bob, erin, dave):
    """Timeline of 2026:

    - Jan 1: group Ops grants account "core" (to this day).
    - Jan 10: alice's first membership, approved by bob, active until Jan 25; on Jan 22 an
      extension moves its expiry to Feb 1, when it expires.
    - Jan 15 - Feb 15: account "temp" is added to Ops, then removed.
    - Mar 1: alice is granted again by request (approved by erin), still active.
    - Jan 5 - Apr 1: erin's membership of group Old, archived Apr 1.
    """
    core, temp = make_account("core"), make_account("temp")
    ops = make_group("Ops", accounts=[])
    AccessGroupAccount.objects.create(
        access_group=ops, account=core, valid_from=day(1, 1), provisioning_status=IN_SYNC
    )
    AccessGroupAccount.objects.create(
        access_group=ops,
        account=temp,
        valid_from=day(1, 15),
        valid_to=day(2, 15),
        provisioning_status=IN_SYNC,
    )

    def membership(user, group, granted, ended=None, **fields):
        return Membership.objects.create(
            user=user,
            access_group=group,
            source=fields.pop("source", MembershipSource.REQUEST),
            justification=fields.pop("justification", "work"),
            granted_at=granted,
            activated_at=fields.pop("activated_at", granted),
            ended_at=ended,
            end_reason=EndReason.EXPIRED if ended else "",
            provisioning_status=IN_SYNC,
            **fields,
        )

    def approved(m, approver, when):
        request = AccessRequest.objects.create(
            requester=m.user,
            access_group=m.access_group,
            justification=m.justification,
            status=RequestStatus.ACTIVE if m.ended_at is None else RequestStatus.EXPIRED,
            membership=m,
            created_at=when,
        )
        Decision.objects.create(
            request=request,
            requester=m.user,
            decided_by=approver,
            outcome=DecisionOutcome.APPROVE,
            created_at=when,
        )

    first = membership(alice, ops, day(1, 10), ended=day(2, 1), expires_at=day(2, 1))
    approved(first, bob, day(1, 10))
    MembershipExtension.objects.create(
        membership=first,
        changed_at=day(1, 22),
        previous_expires_at=day(1, 25),
        expires_at=day(2, 1),
        changed_by=bob,
    )
    # Approved on Feb 25, active only from Mar 1 (provisioning took its time).
    second = membership(alice, ops, day(2, 25), activated_at=day(3, 1), justification="again")
    approved(second, erin, day(2, 25))

    old = make_group("Old", accounts=[], archived_at=day(4, 1))
    AccessGroupAccount.objects.create(
        access_group=old,
        account=core,
        valid_from=day(1, 1),
        valid_to=day(4, 1),
        provisioning_status=IN_SYNC,
    )
    membership(
        erin,
        old,
        day(1, 5),
        ended=day(4, 1),
        source=MembershipSource.ADMIN,
        granted_by=dave,
    )
    return {"first": first, "second": second}


def _keys(at: datetime) -> list[tuple[str, str, str, str]]:
    return [
        (r["username"], r["access_group"], r["account_name"], r["approved_by"])
        for r in who_has_access(at=at)
    ]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (day(1, 1), []),
        (day(1, 5), [("erin", "Old", "core", "dave")]),
        (
            day(1, 12),
            [("alice", "Ops", "core", "bob"), ("erin", "Old", "core", "dave")],
        ),
        # temp added on Jan 15: alice reaches it too.
        (
            day(1, 20),
            [
                ("alice", "Ops", "core", "bob"),
                ("alice", "Ops", "temp", "bob"),
                ("erin", "Old", "core", "dave"),
            ],
        ),
        # alice's first grant ended Feb 1 (the end moment itself is outside).
        (day(2, 1), [("erin", "Old", "core", "dave")]),
        # Approved again on Feb 25 but not active before Mar 1.
        (day(2, 26), [("erin", "Old", "core", "dave")]),
        # Re-granted: temp is gone by now; the second approval's approver answers.
        (
            day(3, 10),
            [("alice", "Ops", "core", "erin"), ("erin", "Old", "core", "dave")],
        ),
        # Old archived Apr 1.
        (day(4, 2), [("alice", "Ops", "core", "erin")]),
    ],
)
def test_who_had_access_then(history, at, expected):
    assert _keys(at) == expected


def test_rows_name_the_membership_active_then(history):
    alice = history["first"].user
    (row,) = [r for r in who_has_access(at=day(1, 20), user=alice) if r["account_name"] == "core"]
    assert row["granted_at"] == history["first"].granted_at
    # The expiry in force on Jan 20, before the extension of Jan 22, and after it.
    assert row["expires_at"] == day(1, 25)
    (row,) = [r for r in who_has_access(at=day(1, 23), user=alice) if r["account_name"] == "core"]
    assert row["expires_at"] == day(2, 1)
    (row,) = who_has_access(at=day(3, 10), user=alice)
    assert (row["granted_at"], row["justification"]) == (day(2, 25), "again")


def test_now_is_not_history(history):
    """The current report reads the current state: alice's second grant only."""
    now = [(r["username"], r["access_group"], r["account_name"]) for r in who_has_access()]
    assert now == [("alice", "Ops", "core")]


def test_api_at_in_json_and_csv(api, carol, history):
    client = api(carol)
    response = client.get(URL + "?at=2026-01-20T00:00:00Z&user=alice")
    assert response.status_code == 200
    assert [r["account_name"] for r in response.json()["results"]] == ["core", "temp"]
    csv_text = b"".join(client.get(URL + "?format=csv&at=2026-01-20").streaming_content).decode()
    assert csv_text.count("\n") == 1 + 3
    bad = client.get(URL + "?at=yesterday")
    assert bad.status_code == 400
    assert "at" in bad.json()


def test_expiring_before_reads_the_expiry_in_force_then(history):
    """On Jan 20 alice's grant was due to end Jan 25; by Jan 23 it ran to Feb 1."""
    due = [(r["username"], r["account_name"]) for r in who_has_access(at=day(1, 20), expiring_before=day(1, 26))]
    assert due == [("alice", "core"), ("alice", "temp")]
    assert list(who_has_access(at=day(1, 23), expiring_before=day(1, 26))) == []


def test_extension_through_the_workflow_shows_only_after_it(alice, bob, limited):
    """Request, approve, activate, then extend: a report of the moment between keeps the old end."""
    first = approved_and_active(alice, limited, bob, hours=2)
    Membership.objects.filter(pk=first.membership_id).update(provisioning_status=IN_SYNC)
    AccessGroupAccount.objects.filter(access_group=limited).update(provisioning_status=IN_SYNC)
    between = timezone.now()
    old_end = Membership.objects.get().expires_at

    approved_and_active(alice, limited, bob, hours=8, justification="more")
    new_end = Membership.objects.get().expires_at
    assert new_end > old_end

    assert {r["expires_at"] for r in who_has_access(at=between, user=alice)} == {old_end}
    assert {r["expires_at"] for r in who_has_access(at=timezone.now(), user=alice)} == {new_end}
    assert {r["expires_at"] for r in who_has_access(user=alice)} == {new_end}
