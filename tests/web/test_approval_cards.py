"""The approval queue's cards: kept in the cache, fresh after every change to what they
show, and the approver's own form never kept (accessgroups.web.approval_cards)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.access import services
from accessgroups.catalogue.services import access_group_update

pytestmark = pytest.mark.django_db


def _queue(client) -> tuple[list[str], int, str]:
    """The details of each card on the queue's first page, the queries the page took, and
    the page."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("web:approvals"))
    assert response.status_code == 200
    page = response.content.decode()
    return re.findall(r'<dl class="grants">.*?</dl>', page, re.S), len(captured), page


def _ask(requester, group, justification="on call this week", **fields):
    return services.access_request_create(
        requester=requester, access_group=group, justification=justification, **fields
    )


def test_a_kept_card_reads_no_accounts_or_policies(
    client_for, bob, make_user, make_group, make_account
):
    accounts = [make_account(f"acct-{n}") for n in range(3)]
    for n in range(3):
        group = make_group(f"G{n}", accounts=accounts, approvers=[bob])
        for k in range(2):
            _ask(make_user(f"asker{n}{k}"), group)
    client = client_for(bob)
    first, written, _ = _queue(client)
    again, kept, _ = _queue(client)
    assert len(first) == 6 and again == first
    # The groups' account links and policies are not read for kept cards.
    assert kept <= written - 2
    assert all("acct-2 (" in card for card in first)


def test_a_change_to_the_group_shows_at_once(client_for, alice, bob, dave, readonly, make_account):
    _ask(alice, readonly)
    client = client_for(bob)
    staging = make_account("staging")
    assert "staging (" not in _queue(client)[0][0]
    access_group_update(
        actor=dave,
        access_group=readonly,
        accounts=[*readonly.current_accounts().values_list("account_id", flat=True), staging.account_id],
        session_duration="PT4H",
    )
    card = _queue(client)[0][0]
    assert "staging (" in card and "4 hours per sign-in" in card


def test_another_approvers_approval_shows_at_once(client_for, alice, bob, erin, make_group, sandbox):
    group = make_group("Prod", accounts=[sandbox], approvers=[bob, erin], approvals_required=2)
    request = _ask(alice, group)
    bobs = client_for(bob)
    assert "0 of 2" in _queue(bobs)[0][0]
    services.access_request_approve(access_request=request, approver=erin)
    assert "1 of 2" in _queue(bobs)[0][0]


def test_what_the_requester_holds_shows_at_once(client_for, alice, bob, readonly, grant):
    _ask(alice, readonly, duration_hours=2)
    client = client_for(bob)
    assert "No: this is new access." in _queue(client)[0][0]
    grant(alice, readonly)
    assert "Yes: this request is an extension" in _queue(client)[0][0]


def test_a_kept_card_stays_escaped(client_for, alice, bob, readonly):
    _ask(alice, readonly, justification="<script>alert(1)</script>")
    client = client_for(bob)
    for card in (_queue(client)[0][0], _queue(client)[0][0]):
        assert "<script>alert(1)</script>" not in card
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card


def test_the_approvers_form_is_never_kept(client_for, alice, bob, dave, make_group, sandbox):
    group = make_group(
        "Prod",
        accounts=[sandbox],
        approvers=[bob],
        risk="high",
        policies=("arn:aws:iam::aws:policy/AdministratorAccess",),
    )
    request = _ask(alice, group)
    for person in (bob, dave):  # the card is kept after the first
        page = _queue(client_for(person))[2]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        assert token and 'class="card request risk-high-card"' in page
    refused = client_for(bob).post(
        reverse("web:request-approve", args=[request.pk]),
        {f"r{request.pk}-comment": "", f"r{request.pk}-access_group_version": group.version},
    )
    assert refused.status_code == 400
    # The refusal shows under the kept card, for this approver only.
    assert "say why you approve" in refused.content.decode()
    assert "say why you approve" not in _queue(client_for(dave))[2]
