"""The drift scan with IDENTITY_SOURCE=external: putting a member back never re-creates the
person the identity provider deleted; it waits for the provider instead."""

from __future__ import annotations

import pytest

from accessgroups.access.services import membership_grant
from accessgroups.models import DriftFinding, DriftKind, Membership, ProvisioningStatus
from provisioning import drift, tasks
from provisioning.errors import AwaitingIdentityProvider
from tests.provisioning.conftest import run_task
from tests.provisioning.test_users_external import USER_WRITES, scim_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_revert_after_the_provider_deleted_the_person_waits_for_them(
    ic, aws_calls, enqueued, settings, make_group, make_account, alice, dave
):
    settings.IDENTITY_SOURCE, settings.IDENTITY_MATCH = "external", "email"
    scim_id = scim_user(ic, "alice@example.com")
    group = make_group("ReadOnly", accounts=[make_account("sandbox")])
    run_task(tasks.access_group_sync_task, group.pk)
    membership = membership_grant(
        user=alice, access_group=group, granted_by=dave, justification="x"
    )
    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"
    group.refresh_from_db()
    # The provider deprovisions alice: her memberships go, then her user.
    for found in ic.ids.list_group_memberships(
        IdentityStoreId=ic.store, GroupId=group.identity_center_group_id
    )["GroupMemberships"]:
        ic.ids.delete_group_membership(
            IdentityStoreId=ic.store, MembershipId=found["MembershipId"]
        )
    ic.delete_user(scim_id)

    result = drift.drift_scan(policy=drift.REVERT)
    assert result is not None and not result.error
    assert DriftFinding.objects.get().kind == DriftKind.MISSING_MEMBER
    with pytest.raises(AwaitingIdentityProvider):
        tasks.membership_sync_task.run(membership.pk)

    membership.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert "alice is not yet provisioned by your identity provider" in membership.last_error
    assert ic.users() == []
    assert not any(aws_calls.count(op) for op in USER_WRITES)

    # The provider brings her back: the membership is made for her new user.
    new_id = scim_user(ic, "alice@example.com")
    assert run_task(tasks.membership_sync_task, membership.pk) == "in_sync"
    assert ic.members(group.identity_center_group_id) == [new_id]
    assert Membership.objects.get(pk=membership.pk).ended_at is None
