"""A membership waiting for its request's start is not added to Identity Center early,
whatever sends it (decision 0017); once the start sweep hands it over, it is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.access import timing
from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.models import Membership, ProvisioningStatus, RequestStatus
from provisioning import tasks
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_membership_sent_before_its_start_waits(
    ic, aws_calls, make_group, make_account, alice, bob, enqueued
):
    group = make_group("ReadOnly", accounts=[make_account("sandbox")], approvers=[bob])
    run_task(tasks.access_group_sync_task, group.pk)
    group.refresh_from_db()
    starts = timezone.now() + timedelta(hours=1)
    request = access_request_create(
        requester=alice, access_group=group, justification="release", starts_at=starts
    )
    request = access_request_approve(access_request=request, approver=bob)
    aws_calls.clear()

    # Sent early (as a re-created group or a healed user id would send it): nothing happens.
    assert run_task(tasks.membership_sync_task, request.membership_id) == "skipped"
    membership = Membership.objects.get(pk=request.membership_id)
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert membership.activated_at is None
    assert aws_calls.calls == []
    assert ic.members(group.identity_center_group_id) == []

    assert timing.requests_start(now=starts) == 1
    assert run_task(tasks.membership_sync_task, request.membership_id) == "in_sync"
    request.refresh_from_db()
    assert request.status == RequestStatus.ACTIVE
    assert ic.members(group.identity_center_group_id) == [ic.user_id("alice")]
