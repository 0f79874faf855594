from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accessgroups.access.services import (
    access_request_approve,
    access_request_cancel,
    access_request_create,
    access_request_revoke,
    membership_activated,
    membership_grant,
    membership_revoke,
    memberships_expire,
)
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import EndReason, Membership, RequestStatus


def active_request(requester, group, approver, hours=None):
    request = access_request_create(requester=requester, access_group=group, justification="x", duration_hours=hours)
    request = access_request_approve(access_request=request, approver=approver)
    membership_activated(membership_id=request.membership_id)
    request.refresh_from_db()
    return request


def test_requester_cancels_pending(alice, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    assert access_request_cancel(access_request=request, user=alice).status == RequestStatus.CANCELLED
    # A new request may follow: the cancelled one is no longer open.
    access_request_create(requester=alice, access_group=readonly, justification="again")


def test_others_cannot_cancel(alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    with pytest.raises(PermissionDenied):
        access_request_cancel(access_request=request, user=bob)
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING


def test_cancel_while_provisioning_ends_the_new_membership(alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    request = access_request_approve(access_request=request, approver=bob)
    access_request_cancel(access_request=request, user=alice)
    membership = Membership.objects.get()
    assert membership.ended_at is not None and membership.end_reason == EndReason.REVOKED


def test_cannot_cancel_decided(alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    access_request_approve(access_request=request, approver=bob)
    membership_activated(membership_id=request.membership_id if request.membership_id else Membership.objects.get().pk)
    with pytest.raises(InvalidTransition):
        access_request_cancel(access_request=request, user=alice)


@pytest.mark.parametrize("who", ["bob", "alice", "dave"])
def test_revoke_by_approver_admin_or_requester(alice, bob, readonly, who, request):
    access = active_request(alice, readonly, bob)
    access_request_revoke(access_request=access, user=request.getfixturevalue(who))
    access.refresh_from_db()
    membership = Membership.objects.get()
    assert access.status == RequestStatus.REVOKED
    assert membership.end_reason == EndReason.REVOKED and membership.ended_at is not None


@pytest.mark.parametrize("who", ["erin", "carol"])
def test_revoke_refused_for_others(alice, bob, readonly, who, request):
    access = active_request(alice, readonly, bob)
    with pytest.raises(PermissionDenied):
        access_request_revoke(access_request=access, user=request.getfixturevalue(who))
    assert Membership.objects.active().count() == 1


def test_expiry_ends_membership_and_request(alice, bob, limited):
    access = active_request(alice, limited, bob, hours=2)
    membership = Membership.objects.get()

    assert memberships_expire(now=membership.expires_at - timedelta(seconds=1)) == 0
    assert memberships_expire(now=membership.expires_at + timedelta(seconds=1)) == 1
    # Running again changes nothing.
    assert memberships_expire(now=membership.expires_at + timedelta(seconds=1)) == 0

    access.refresh_from_db()
    membership.refresh_from_db()
    assert access.status == RequestStatus.EXPIRED
    assert membership.end_reason == EndReason.EXPIRED


def test_permanent_access_never_expires(alice, bob, readonly):
    active_request(alice, readonly, bob)
    assert memberships_expire(now=timezone.now() + timedelta(days=3650)) == 0


def test_admin_grant_and_revoke(alice, dave, readonly):
    membership = membership_grant(user=alice, access_group=readonly, granted_by=dave, justification="onboarding")
    assert membership.source == "admin"
    again = membership_grant(user=alice, access_group=readonly, granted_by=dave, justification="again", duration_hours=3)
    assert again.pk == membership.pk
    membership_revoke(membership=membership, revoked_by=dave)
    with pytest.raises(InvalidTransition):
        membership_revoke(membership=membership, revoked_by=dave)


def test_only_admins_grant(alice, bob, readonly):
    with pytest.raises(PermissionDenied):
        membership_grant(user=alice, access_group=readonly, granted_by=bob, justification="x")
    assert not Membership.objects.exists()
