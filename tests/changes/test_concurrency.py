"""Two admins press Approve on the same change request at the same moment: exactly one
applies it. Meaningful on PostgreSQL (DATABASE_URL), where the row locks decide; SQLite
serialises the writers anyway."""

from functools import partial

import pytest

from accessgroups.changes.services import change_approve, change_propose
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import AuditEvent, ChangeRequest, ChangeStatus
from tests.at_once import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_approvals_at_once_apply_it_once(dave, make_user, developers, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "accessgroups.core.sync.transaction.on_commit", lambda fn, *a, **k: sent.append(fn)
    )
    frank = make_user("frank", is_portal_admin=True)
    grace = make_user("grace", is_portal_admin=True)
    change = change_propose(
        actor=dave, action="update", access_group=developers, fields={"session_duration": "PT8H"}
    )
    sent.clear()  # what the proposal's rolled-back trial asked for (the patch keeps it)

    results = at_once(
        partial(change_approve, actor=frank, change_request=change),
        partial(change_approve, actor=grace, change_request=change),
    )

    applied = [r for r in results if isinstance(r, ChangeRequest)]
    refused = [r for r in results if isinstance(r, InvalidTransition)]
    assert (len(applied), len(refused)) == (1, 1), results
    assert ChangeRequest.objects.get().status == ChangeStatus.APPROVED
    assert AuditEvent.objects.filter(action="access_group.updated").count() == 1
    assert AuditEvent.objects.filter(action="change_request.approved").count() == 1
    assert len(sent) == 1  # one provisioning run
