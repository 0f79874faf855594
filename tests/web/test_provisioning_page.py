"""The admins' provisioning page: pending removals, failed grants, the backlog."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.urls import reverse

from accessgroups.access.services import membership_grant, membership_revoke
from accessgroups.models import Membership, ProvisioningStatus

pytestmark = pytest.mark.django_db

URL = reverse("web:manage-provisioning")


@pytest.fixture
def revoked(alice, dave, readonly):
    membership = membership_grant(user=alice, access_group=readonly, granted_by=dave, justification="x")
    Membership.objects.filter(pk=membership.pk).update(provisioning_status=ProvisioningStatus.IN_SYNC)
    membership_revoke(membership=membership, revoked_by=dave)
    Membership.objects.filter(pk=membership.pk).update(
        last_error="You may not call identitystore:DeleteGroupMembership. <b>Allow</b> it."
    )
    return membership


def test_admins_see_pending_removals_with_their_error_escaped(client_for, dave, revoked):
    page = client_for(dave).get(URL).content.decode()

    assert 'class="removal-row" data-username="alice" data-access-group="ReadOnly"' in page
    assert "Revoked" in page
    assert "&lt;b&gt;Allow&lt;/b&gt;" in page and "<b>Allow</b>" not in page
    assert "1 removal pending" in page


def test_a_confirmed_removal_is_no_longer_listed(client_for, dave, revoked):
    Membership.objects.filter(pk=revoked.pk).update(
        provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=F("generation")
    )

    page = client_for(dave).get(URL).content.decode()

    assert "removal-row" not in page and "every ended access is confirmed removed" in page


def test_the_backlog_counts_rows_per_kind(client_for, dave, revoked, erin, readonly):
    other = membership_grant(user=erin, access_group=readonly, granted_by=dave, justification="y")
    Membership.objects.filter(pk=other.pk).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error="The group is gone."
    )

    response = client_for(dave).get(URL)

    memberships = next(b for b in response.context["backlog"] if b.kind == "membership")
    assert (memberships.pending, memberships.failed) == (1, 1)
    assert memberships.oldest_pending_at is not None
    page = response.content.decode()
    assert 'class="failed-row" data-username="erin"' in page
    assert reverse("web:manage-membership-retry", args=[other.pk]) in page


def test_retrying_a_failed_membership_sends_it_again(
    client_for, dave, erin, readonly, requested_syncs, django_capture_on_commit_callbacks
):
    membership = membership_grant(user=erin, access_group=readonly, granted_by=dave, justification="y")
    Membership.objects.filter(pk=membership.pk).update(provisioning_status=ProvisioningStatus.FAILED)
    requested_syncs.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(dave).post(
            reverse("web:manage-membership-retry", args=[membership.pk]), follow=True
        )

    assert response.status_code == 200
    membership.refresh_from_db()
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert ("membership_sync_task", (membership.pk,)) in requested_syncs


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_only_admins_may_open_it_or_retry(request, client_for, persona, revoked):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    Membership.objects.filter(pk=revoked.pk).update(provisioning_status=ProvisioningStatus.FAILED)
    assert client.post(reverse("web:manage-membership-retry", args=[revoked.pk])).status_code == 403
    assert Membership.objects.get(pk=revoked.pk).provisioning_status == ProvisioningStatus.FAILED


def test_queries_do_not_grow_with_rows(client_for, dave, readonly, make_user, django_assert_max_num_queries):
    client = client_for(dave)
    for i in range(30):
        user = make_user(f"user{i}")
        m = membership_grant(user=user, access_group=readonly, granted_by=dave, justification="x")
        membership_revoke(membership=m, revoked_by=dave)
    with django_assert_max_num_queries(15):
        assert client.get(URL).status_code == 200
