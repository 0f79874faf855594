"""The catalogue's cards: kept in the shared cache, fresh after every change to the group, and
nothing of one reader shown to another."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.catalogue.services import access_group_update
from accessgroups.models import Membership, MembershipSource

pytestmark = pytest.mark.django_db


def _catalogue(client) -> tuple[str, int]:
    """The cards of the catalogue's first page, and the queries the page took."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("web:catalogue"))
    assert response.status_code == 200
    page = response.content.decode()
    cards = page[page.index('<ul class="cards"') :]
    return cards[: cards.index("</ul>\n")], len(captured)


def test_a_kept_card_costs_no_query_of_its_own(client_for, alice, bob, make_group, make_account):
    accounts = [make_account(f"acct-{n}") for n in range(3)]
    for n in range(5):
        make_group(f"G{n}", accounts=accounts, approvers=[bob])
    client = client_for(alice)
    first, written = _catalogue(client)
    again, kept = _catalogue(client)
    assert again == first
    # The links, policies, approvers and approver groups of the page's groups are not read.
    assert kept <= written - 4
    assert first.count("acct-1 (") == 5
    assert "bob" in first


def test_a_change_to_the_group_shows_at_once(
    client_for, alice, bob, dave, make_group, make_account
):
    sandbox, staging = make_account("sandbox"), make_account("staging")
    group = make_group("ReadOnly", accounts=[sandbox], approvers=[bob])
    client = client_for(alice)
    assert "staging (" not in _catalogue(client)[0]
    access_group_update(
        actor=dave,
        access_group=group,
        accounts=[sandbox.account_id, staging.account_id],
        session_duration="PT4H",
    )
    page = _catalogue(client)[0]
    assert "staging (" in page
    assert "4 hours" in page


def test_a_description_edit_shows_at_once(client_for, alice, bob, dave, make_group, make_account):
    group = make_group("ReadOnly", accounts=[make_account("sandbox")], approvers=[bob])
    client = client_for(alice)
    _catalogue(client)
    access_group_update(actor=dave, access_group=group, max_duration_hours=8)
    assert "8 hours" in _catalogue(client)[0]


def test_what_one_reader_holds_is_not_shown_to_another(
    client_for, alice, erin, bob, make_group, make_account
):
    group = make_group("ReadOnly", accounts=[make_account("sandbox")], approvers=[bob])
    Membership.objects.create(
        user=alice, access_group=group, source=MembershipSource.ADMIN, activated_at=group.created_at
    )
    assert "You have this access" in _catalogue(client_for(alice))[0]
    for_erin = _catalogue(client_for(erin))[0]
    assert "You have this access" not in for_erin
    assert "Request access" in for_erin


def test_names_in_a_kept_card_stay_escaped(client_for, alice, bob, make_group, make_account):
    make_group("ReadOnly", accounts=[make_account("<script>alert(1)</script>")], approvers=[bob])
    client = client_for(alice)
    for page in (_catalogue(client)[0], _catalogue(client)[0]):
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
