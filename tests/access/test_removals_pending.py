"""removals_pending(): ended access whose removal from Identity Center is not confirmed."""

from __future__ import annotations

from django.utils import timezone

from accessgroups.access.selectors import removals_pending
from accessgroups.models import Membership, ProvisioningStatus

IN_SYNC = ProvisioningStatus.IN_SYNC


def ended(membership: Membership, **fields) -> Membership:
    Membership.objects.filter(pk=membership.pk).update(ended_at=timezone.now(), **fields)
    membership.refresh_from_db()
    return membership


def test_an_ended_membership_waits_until_its_latest_change_is_in_sync(alice, readonly, grant):
    membership = ended(grant(alice, readonly), generation=2, synced_generation=1)

    for status in ProvisioningStatus:
        if status != IN_SYNC:
            Membership.objects.filter(pk=membership.pk).update(provisioning_status=status)
            assert list(removals_pending()) == [membership], status

    # In sync, but for the generation before the end: the removal is not confirmed.
    Membership.objects.filter(pk=membership.pk).update(provisioning_status=IN_SYNC)
    assert list(removals_pending()) == [membership]

    Membership.objects.filter(pk=membership.pk).update(synced_generation=2)
    assert not removals_pending().exists()


def test_active_memberships_are_not_removals(alice, readonly, grant):
    grant(alice, readonly)  # pending, not ended

    assert not removals_pending().exists()


def test_an_ended_membership_covered_by_an_active_one_is_not_a_removal(
    alice, bob, readonly, limited, grant
):
    ended(grant(alice, readonly))
    grant(alice, readonly)  # granted again: the Identity Center membership stays
    other_group = ended(grant(alice, limited))
    other_user = ended(grant(bob, readonly))

    assert set(removals_pending()) == {other_group, other_user}
