"""The group form's several-of-many fields are lists of checkboxes (no Ctrl-click), light
enough for an organization with hundreds of accounts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.models import AccessGroup, Account

pytestmark = pytest.mark.django_db

CHECKLISTS = ("accounts", "approvers", "organizational_units", "approver_groups", "eligible_groups")


def test_the_form_has_checkboxes_not_multiple_selects(client_for, dave, bob, sandbox):
    page = client_for(dave).get(reverse("web:manage-group-create")).content.decode()
    assert "<select multiple" not in page and 'multiple id="id_accounts"' not in page
    for name in CHECKLISTS:
        assert f'<div class="checklist" id="id_{name}" data-checklist>' in page, name
    assert (
        f'<label><input type="checkbox" name="accounts" value="{sandbox.account_id}"> '
        f"sandbox ({sandbox.account_id})</label>" in page
    )
    assert '<input type="checkbox" name="approvers" value="bob">' in page
    assert 'src="/static/js/checklist.js"' in page
    # The list's legend and its help text belong together.
    assert '<fieldset aria-describedby="id_accounts_helptext"><legend>Accounts</legend>' in page


def test_the_edit_form_ticks_what_the_group_has(client_for, dave, readonly, sandbox, make_account):
    other = make_account("other")
    page = client_for(dave).get(reverse("web:manage-group-edit", args=[readonly.pk])).content.decode()
    assert f'name="accounts" value="{sandbox.account_id}" checked>' in page
    assert f'name="accounts" value="{other.account_id}">' in page
    assert 'name="approvers" value="bob" checked>' in page


def test_ticked_boxes_are_saved(client_for, dave, bob, erin, sandbox, make_account):
    prod = make_account("prod")
    response = client_for(dave).post(
        reverse("web:manage-group-create"),
        {
            "name": "Deploy",
            "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "session_duration": "1 hour",
            "accounts": [sandbox.account_id, prod.account_id],
            "approvers": ["bob", "erin"],
        },
    )
    assert response.status_code == 302
    group = AccessGroup.objects.get(name="Deploy")
    assert {a.account_id for a in group.current_accounts()} == {sandbox.account_id, prod.account_id}
    assert set(group.approvers.values_list("username", flat=True)) == {"bob", "erin"}


def test_many_accounts_cost_no_query_and_little_markup(client_for, dave, bob, sandbox):
    client = client_for(dave)
    url = reverse("web:manage-group-create")

    def measure() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        return len(captured), len(response.content)

    queries, size = measure()
    Account.objects.bulk_create(
        Account(account_id=f"{200000000000 + n}", name=f"team-{n}-workloads") for n in range(600)
    )
    more_queries, more_size = measure()
    assert more_queries == queries
    # One short line per account: its checkbox and its label.
    assert (more_size - size) / 600 < 130
