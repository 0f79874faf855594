"""Two approvers press Approve at the same moment: one decision, one provisioning run."""

import threading

import pytest
from django.db import connection

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import Decision, Membership

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
