"""Two approvers press Approve at the same moment: one decision, one provisioning run. An
approval and the end of the same access at the same moment: both happen, no deadlock."""

import threading
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_revoke,
)
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import (
    AccessRequest,
    Decision,
    Membership,
    RequestStatus,
    SessionRevocation,
    User,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_approvals_give_one_decision(alice, bob, dave, readonly, monkeypatch):
    sent = []
    monkeypatch.setattr("accessgroups.access.services.transaction.on_commit", lambda fn, *a, **k: sent.append(fn))
    monkeypatch.setattr("accessgroups.mail.notify._send_on_commit", lambda *args: None)  # mail has its own tests
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    barrier = threading.Barrier(2)
    outcomes = []

    def approve(user):
        try:
            barrier.wait()
            access_request_approve(access_request=request, approver=user)
            outcomes.append("approved")
        except InvalidTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (bob, dave)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["approved", "refused"]
    assert Decision.objects.count() == 1
    assert Membership.objects.count() == 1
    assert len(sent) == 1  # one provisioning run enqueued


def test_an_extension_approved_while_the_access_ends_does_not_deadlock(
    alice, bob, dave, readonly, grant, requested_syncs, monkeypatch
):
    # Ending access that revokes sessions locks the group's row, as approval does: taken in
    # the same order (group first), the two wait for each other instead of deadlocking.
    monkeypatch.setattr("accessgroups.mail.notify._send_on_commit", lambda *args: None)
    User.objects.filter(pk=alice.pk).update(identity_center_user_id="alice-id")
    outcomes = []
    for _ in range(5):
        # Access that expires: an extension of access without expiry is refused.
        membership = grant(alice, readonly, expires_at=timezone.now() + timedelta(hours=1))
        request = access_request_create(requester=alice, access_group=readonly, justification="x")
        barrier = threading.Barrier(2)

        def run(name, action):
            try:
                barrier.wait()
                action()
                outcomes.append(name)
            except Exception as exc:  # noqa: BLE001 - a thread's error is what the test shows
                outcomes.append(f"{name}: {type(exc).__name__}: {exc}")
            finally:
                connection.close()

        approve = partial(access_request_approve, access_request=request, approver=bob)
        revoke = partial(membership_revoke, membership=membership, revoked_by=dave)
        threads = [
            threading.Thread(target=run, args=("approved", approve)),
            threading.Thread(target=run, args=("revoked", revoke)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # When the revocation came first, the approval granted anew: end that too.
        Membership.objects.filter(ended_at__isnull=True).update(ended_at=timezone.now())
        AccessRequest.objects.open().update(status=RequestStatus.CANCELLED)

    assert sorted(set(outcomes)) == ["approved", "revoked"], outcomes
    assert SessionRevocation.objects.count() == 5
