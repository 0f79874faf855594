import pytest
from django.core.exceptions import PermissionDenied

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    access_request_reject,
    membership_activated,
)
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import (
    AccessRequest,
    AuditEvent,
    Decision,
    Membership,
    MembershipExtension,
    RequestStatus,
)
from tests.syncs import captured_syncs
from tests.workflow import approved_and_active


@pytest.fixture
def pending(alice, readonly):
    return access_request_create(requester=alice, access_group=readonly, justification="incident 42")


def test_approver_approves_and_provisioning_is_enqueued(
    pending, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        request = access_request_approve(access_request=pending, approver=bob, comment="ok")

    assert request.status == RequestStatus.APPROVED
    membership = request.membership
    assert membership.user == pending.requester and membership.granted_by == bob
    assert membership.activated_at is None and membership.expires_at is None
    # provisioning, the mail to the requester, and the notice to the other approvers
    assert len(callbacks) == 3
    with captured_syncs() as sent:
        callbacks[0]()
    assert sent == [("membership_sync_task", (membership.pk,))]
    request.refresh_from_db()
    assert request.status == RequestStatus.PROVISIONING  # handed over to the workers
    decision = Decision.objects.get(request=pending)
    assert (decision.outcome, decision.decided_by, decision.comment) == ("approve", bob, "ok")
    assert AuditEvent.objects.filter(action="request.approved", actor=bob).count() == 1


def test_nobody_approves_their_own_request(make_group, bob, dave):
    group = make_group("Ops", approvers=[bob])
    own = access_request_create(requester=bob, access_group=group, justification="me")
    with pytest.raises(PermissionDenied):
        access_request_approve(access_request=own, approver=bob)
    admin_own = access_request_create(requester=dave, access_group=group, justification="me")
    with pytest.raises(PermissionDenied):
        access_request_approve(access_request=admin_own, approver=dave)
    assert not Decision.objects.exists()
    assert not Membership.objects.exists()


@pytest.mark.parametrize("who", ["erin", "carol", "alice"])
def test_only_approvers_and_admins_decide(pending, who, request):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        access_request_approve(access_request=pending, approver=user)
    with pytest.raises(PermissionDenied):
        access_request_reject(access_request=pending, approver=user)
    pending.refresh_from_db()
    assert pending.status == RequestStatus.PENDING
    assert not Decision.objects.exists()


def test_admin_approves_any_group(pending, dave):
    assert access_request_approve(access_request=pending, approver=dave).status == RequestStatus.APPROVED


def test_reject(pending, bob):
    request = access_request_reject(access_request=pending, approver=bob, comment="not needed")
    assert request.status == RequestStatus.REJECTED
    assert not Membership.objects.exists()
    with pytest.raises(InvalidTransition):
        access_request_approve(access_request=pending, approver=bob)


def test_decided_only_once(pending, bob, dave):
    access_request_approve(access_request=pending, approver=bob)
    with pytest.raises(InvalidTransition):
        access_request_approve(access_request=pending, approver=dave)
    assert Decision.objects.count() == 1


def test_activation_starts_the_clock(alice, limited, bob):
    request = access_request_create(requester=alice, access_group=limited, justification="x", duration_hours=4)
    request = access_request_approve(access_request=request, approver=bob)

    membership_activated(membership_id=request.membership_id)

    request.refresh_from_db()
    membership = request.membership
    assert request.status == RequestStatus.ACTIVE
    assert membership.expires_at - membership.activated_at == __import__("datetime").timedelta(hours=4)


def test_extension_moves_expiry_without_second_membership(alice, limited, bob):
    approved_and_active(alice, limited, bob, hours=2)
    before = Membership.objects.get().expires_at

    second = access_request_create(requester=alice, access_group=limited, justification="more", duration_hours=8)
    assert second.is_extension
    second = access_request_approve(access_request=second, approver=bob)

    assert Membership.objects.count() == 1
    assert second.status == RequestStatus.ACTIVE
    membership = Membership.objects.get()
    assert membership.expires_at > before
    assert AccessRequest.objects.filter(status=RequestStatus.ACTIVE).count() == 2
    # The expiry it replaced is kept, for reports of a moment before the extension.
    (extension,) = MembershipExtension.objects.all()
    assert (extension.membership, extension.changed_by) == (membership, bob)
    assert (extension.previous_expires_at, extension.expires_at) == (before, membership.expires_at)


def test_extension_that_moves_nothing_leaves_no_history(alice, limited, bob):
    """A shorter extension never shortens access, so the expiry has no new value to record."""
    approved_and_active(alice, limited, bob, hours=8)
    before = Membership.objects.get().expires_at

    approved_and_active(alice, limited, bob, hours=1, justification="a bit more")

    assert Membership.objects.get().expires_at == before
    assert not MembershipExtension.objects.exists()
