"""The report's count (two aggregates by access group) is exactly the number of its rows,
under every filter, in every state, now and at a past moment."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from accessgroups.models import (
    AccessGroupAccount,
    Membership,
    MembershipExtension,
    MembershipSource,
    ProvisioningStatus,
)
from accessgroups.reports.selectors import report_count, who_has_access

IN_SYNC = ProvisioningStatus.IN_SYNC
PENDING = ProvisioningStatus.PENDING


@pytest.fixture
def mixed(make_user, make_account, make_group, dave):
    """Rows in every state: active, removal_pending (by membership and by account link),
    expiring, still provisioning, removed for good, covered by a newer membership, in an
    archived group; and a dated history for ``at``."""
    now = timezone.now()
    long_ago, past = now - timedelta(days=60), now - timedelta(days=30)
    a, b, c = (make_account(n) for n in ("a", "b", "c"))
    ops, dev = make_group("Ops", accounts=[]), make_group("Dev", accounts=[])
    gone = make_group("Gone", accounts=[], archived_at=now - timedelta(days=1))

    def link(group, account, **fields):
        fields.setdefault("valid_from", long_ago)
        fields.setdefault("provisioning_status", IN_SYNC)
        return AccessGroupAccount.objects.create(access_group=group, account=account, **fields)

    link(ops, a)
    link(ops, b)
    link(ops, c, valid_to=now - timedelta(hours=1), provisioning_status=PENDING)  # removal pending
    link(dev, b)
    link(dev, c, provisioning_status=PENDING)  # still being assigned: no rows
    link(dev, a, valid_to=past, provisioning_status=IN_SYNC)  # gone since, there in the past
    link(gone, a)

    people = [make_user(f"u{n}") for n in range(5)]

    def member(user, group, **fields):
        fields.setdefault("activated_at", long_ago)
        fields.setdefault("granted_at", long_ago)
        fields.setdefault("provisioning_status", IN_SYNC)
        return Membership.objects.create(
            user=user, access_group=group, source=MembershipSource.ADMIN, granted_by=dave, **fields
        )

    member(people[0], ops)
    member(people[0], dev, expires_at=now + timedelta(hours=3))
    expiring = member(people[1], ops, expires_at=now + timedelta(days=2))
    # Extended after ``past``: at ``past`` its expiry was the earlier one.
    MembershipExtension.objects.create(
        membership=expiring,
        changed_at=past + timedelta(days=1),
        previous_expires_at=past + timedelta(days=5),
        expires_at=expiring.expires_at,
    )
    member(people[1], dev, provisioning_status=PENDING)  # not access yet
    # Ended, removal not confirmed: removal_pending.
    member(people[2], ops, ended_at=now - timedelta(hours=2), provisioning_status=PENDING)
    # Ended and removed for good.
    removed = member(people[2], dev, ended_at=past + timedelta(days=2))
    Membership.objects.filter(pk=removed.pk).update(synced_generation=F("generation"))
    # Ended but covered by a newer membership of the same group.
    member(people[3], ops, ended_at=past, provisioning_status=PENDING)
    member(people[3], ops, granted_at=past + timedelta(days=1), activated_at=past + timedelta(days=1))
    member(people[4], gone)
    member(people[4], dev, activated_at=None, granted_at=past - timedelta(days=1))
    return {
        "accounts": [None, a, b, c],
        "groups": [None, ops, dev, gone],
        "users": [None, *people[:4]],
        "expiring_before": [None, now + timedelta(days=1), past + timedelta(days=10)],
        "at": [None, past, now - timedelta(minutes=30)],
    }


def test_count_is_the_number_of_rows_under_every_filter(mixed):
    states = set()
    nonzero = 0
    for account, group, user, expiring, at in itertools.product(
        mixed["accounts"], mixed["groups"], mixed["users"], mixed["expiring_before"], mixed["at"]
    ):
        filters = {
            "account": account,
            "access_group": group,
            "user": user,
            "expiring_before": expiring,
            "at": at,
        }
        rows = list(who_has_access(**filters))
        assert report_count(**filters) == len(rows), filters
        assert who_has_access(**filters).count() == len(rows), filters
        states |= {r["state"] for r in rows}
        nonzero += bool(rows)
    # The organisation really has rows of both states, and most filters find some.
    assert states == {"active", "removal_pending"}
    assert nonzero > 50


def test_count_is_two_queries(mixed, make_account, django_assert_num_queries):
    ops = mixed["groups"][1]
    for filters in ({}, {"account": mixed["accounts"][1]}, {"access_group": ops}):
        with django_assert_num_queries(2):
            who_has_access(**filters).count()
    # Nothing on the side read first: the other is not read.
    with django_assert_num_queries(1):
        who_has_access(expiring_before=timezone.now() - timedelta(days=365)).count()
    unused = make_account("unused")
    with django_assert_num_queries(1):
        assert who_has_access(account=unused).count() == 0
