"""The sync port: how the domain asks provisioning for work without importing it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accessgroups.core import sync
from accessgroups.models import AccessGroup, Account, Membership, ProvisioningStatus, User
from provisioning import tasks
from tests.syncs import captured_syncs

pytestmark = pytest.mark.django_db(transaction=True)


def test_provisioning_registers_one_task_per_kind_of_row() -> None:
    assert sync._tasks == {
        User: tasks.user_onboard_task,
        AccessGroup: tasks.access_group_sync_task,
        Membership: tasks.membership_sync_task,
        sync.ACCOUNTS: tasks.accounts_sync_task,
        sync.DRIFT_SCAN: tasks.drift_scan_task,
        sync.GROUP_SYNC: tasks.group_sync_task,
    }


def test_request_sync_marks_the_row_pending_and_sends_its_task_after_commit(readonly) -> None:
    AccessGroup.objects.filter(pk=readonly.pk).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error="AccessDenied"
    )
    generation = AccessGroup.objects.get(pk=readonly.pk).generation
    with captured_syncs() as sent:
        with transaction.atomic():
            sync.request_sync(readonly)
            assert sent == []  # nothing leaves before the commit
        assert sent == [("access_group_sync_task", (readonly.pk,))]
    row = AccessGroup.objects.get(pk=readonly.pk)
    assert (row.generation, row.provisioning_status) == (generation + 1, ProvisioningStatus.PENDING)
    # The last error stays until a run succeeds: it tells that run the last one was cut short.
    assert row.last_error == "AccessDenied"


def test_a_rolled_back_change_sends_nothing(readonly) -> None:
    with captured_syncs() as sent:
        with pytest.raises(RuntimeError), transaction.atomic():
            sync.request_sync(readonly)
            raise RuntimeError("the transaction fails")
    assert sent == []
    assert AccessGroup.objects.get(pk=readonly.pk).generation == readonly.generation


def test_then_runs_after_the_task_was_sent(alice) -> None:
    order: list[str] = []
    with captured_syncs() as sent:
        with transaction.atomic():
            sync.sync_on_commit(
                User, alice.pk, then=lambda: order.append(f"then after {len(sent)}")
            )
    assert order == ["then after 1"]


def test_a_kind_of_row_nobody_registered_is_refused_inside_the_transaction(monkeypatch) -> None:
    monkeypatch.delitem(sync._tasks, User)
    with pytest.raises(ImproperlyConfigured, match="No sync is registered for User"):
        with transaction.atomic():
            sync.sync_on_commit(User, 1)
    with pytest.raises(ImproperlyConfigured):
        sync.sync_on_commit(Account, 1)


def test_a_broker_that_cannot_take_the_task_leaves_the_change_committed(
    alice, caplog, monkeypatch
) -> None:
    from kombu.exceptions import OperationalError

    def refuse(*args):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.user_onboard_task, "delay", refuse)
    then = []
    with transaction.atomic():
        sync.request_sync(alice)
        sync.sync_on_commit(User, alice.pk, then=lambda: then.append("ran"))
    # No error reached the caller; the row records the work for the dispatcher.
    row = User.objects.get(pk=alice.pk)
    assert row.provisioning_status == ProvisioningStatus.PENDING and row.due_at is not None
    assert then == ["ran"]
    assert "the dispatcher will send it again" in caplog.text
    assert "Connection refused" in caplog.text
