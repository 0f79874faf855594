"""The Accounts page follows a sync from AWS Organizations it asked for: while it runs the
page polls, and its result (and the accounts it read) replace the notice without a reload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.models import AuditEvent, OrganizationsSync
from accessgroups.organizations import selectors
from accessgroups.organizations.selectors import SYNC_WAIT, organizations_sync_status
from accessgroups.organizations.services import organizations_sync_failed

pytestmark = pytest.mark.django_db

POLLING = 'hx-trigger="every 2s" hx-select="#accounts-live"'


def _page(client) -> str:
    return client.get(reverse("web:manage-accounts")).content.decode()


def test_no_sync_asked_no_polling(client_for, dave):
    page = _page(client_for(dave))
    assert POLLING not in page and "organizations-sync-running" not in page


def test_a_sync_asked_for_polls_until_it_is_done(client_for, dave, requested_syncs):
    client = client_for(dave)
    page = client.post(reverse("web:manage-accounts-sync"), follow=True).content.decode()
    assert POLLING in page and 'hx-get="/manage/accounts/"' in page
    assert "Reading the accounts from AWS Organizations (asked at" in page

    OrganizationsSync.objects.create(
        finished_at=timezone.now(), accounts=3, organizational_units=2, calls=4
    )
    page = _page(client)
    assert POLLING not in page and "organizations-sync-running" not in page
    assert "3 accounts in 2 roots and OUs" in page


def test_a_failed_sync_ends_the_polling_with_its_reason(client_for, dave, requested_syncs):
    client = client_for(dave)
    client.post(reverse("web:manage-accounts-sync"))
    organizations_sync_failed(message="AccessDenied: not the management account.")
    page = _page(client)
    assert POLLING not in page
    assert "failed: AccessDenied: not the management account." in page


def test_a_sync_without_result_for_long_is_not_waited_for(
    client_for, dave, requested_syncs, monkeypatch
):
    client = client_for(dave)
    client.post(reverse("web:manage-accounts-sync"))
    asked = AuditEvent.objects.get(action="account.sync_requested").created_at
    later = organizations_sync_status(now=asked + SYNC_WAIT + timedelta(seconds=1))
    assert later["sync_asked_at"] == asked and later["sync_running"] is False
    # The page, as it is after that wait (the audit log cannot be back-dated).
    monkeypatch.setattr(selectors, "SYNC_WAIT", timedelta(0))
    page = _page(client)
    assert POLLING not in page
    assert "has no result yet: check that a worker is running." in page


def test_a_new_request_after_an_old_result_polls_again(client_for, dave, requested_syncs):
    OrganizationsSync.objects.create(
        started_at=timezone.now() - timedelta(hours=1),
        finished_at=timezone.now() - timedelta(hours=1),
    )
    client = client_for(dave)
    client.post(reverse("web:manage-accounts-sync"))
    assert POLLING in _page(client)
