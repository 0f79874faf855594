"""The account filters' options (accessgroups.web.choices): every account, by name, kept per
process under the accounts' number and last change, so that every change shows at once."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.models import AccessGroup, Account
from accessgroups.web.choices import account_options, group_names

pytestmark = pytest.mark.django_db

OPTION = re.compile(r'<option value="([^"]*)"( selected)?>([^<]*)</option>')


def _options(html: str) -> list[tuple[str, bool, str]]:
    found = [(value, bool(mark), label) for value, mark, label in OPTION.findall(html)]
    assert OPTION.sub("", html) == ""  # nothing but options
    return found


def _expected(selected: str | None = None) -> list[tuple[str, bool, str]]:
    from html import escape

    return [
        (a.account_id, a.account_id == selected, escape(a.label))
        for a in Account.objects.order_by("name", "account_id")
    ]


def test_every_account_by_name_and_every_change_shows_at_once(make_account):
    payments = make_account("payments", ou_path="Root/Prod")
    make_account("audit")
    assert _options(account_options()) == _expected()

    with CaptureQueriesContext(connection) as captured:
        again = account_options()
    assert len(captured) == 1 and _options(again) == _expected()  # the stamp only

    payments.name = "billing"
    payments.save()
    assert _options(account_options()) == _expected()
    assert "billing (" in account_options()
    newer = make_account("zeta")
    assert _options(account_options())[-1][0] == newer.account_id
    newer.delete()
    assert _options(account_options()) == _expected() and newer.account_id not in account_options()


def test_the_selected_account_is_marked_and_names_are_escaped(make_account):
    hostile = make_account('<script>alert("x")</script>', ou_path="Root/<b>")
    plain = make_account("plain")
    marked = _options(account_options(hostile.account_id))
    assert marked == _expected(hostile.account_id)
    assert [value for value, selected, _ in marked if selected] == [hostile.account_id]
    assert "<script>" not in account_options()
    assert _options(account_options(plain.account_id)) == _expected(plain.account_id)
    # An account that is not there marks nothing; a value is never written unescaped.
    assert not any(selected for _, selected, _ in _options(account_options('"><x')))
    assert _options(account_options()) == _expected()


def test_the_catalogue_filter_marks_the_chosen_account(client_for, alice, make_account):
    chosen = make_account("chosen")
    make_account("other")
    page = client_for(alice).get(reverse("web:catalogue"), {"account": chosen.account_id})
    assert page.status_code == 200
    assert f'<option value="{chosen.account_id}" selected>' in page.content.decode()


def _names(html: str) -> list[str]:
    found = re.findall(r'<option value="([^"]*)">', html)
    assert re.sub(r'<option value="[^"]*">', "", html) == ""  # nothing but options
    return found


def _live_names() -> list[str]:
    from html import escape

    return [escape(g.name) for g in AccessGroup.objects.live().order_by("name", "id")]


def test_every_live_group_by_name_and_every_change_shows_at_once(make_group, make_user):
    from accessgroups.catalogue.services import access_group_archive, access_group_update

    admin = make_user("root", is_portal_admin=True)
    payments = make_group("Payments")
    make_group("Audit")
    assert _names(group_names()) == _live_names() == ["Audit", "Payments"]

    with CaptureQueriesContext(connection) as captured:
        again = group_names()
    assert len(captured) == 1 and _names(again) == _live_names()  # the stamp only

    # A group's name never changes (Identity Center cannot rename a permission set); its
    # other fields do, and the names stay.
    access_group_update(actor=admin, access_group=payments, description="Billing runs")
    assert _names(group_names()) == ["Audit", "Payments"]
    hostile = make_group('<b>"x"</b>')
    assert _names(group_names()) == _live_names() and "<b>" not in group_names()
    # Archiving takes a group out of the live ones without a save.
    access_group_archive(actor=admin, access_group=hostile)
    assert _names(group_names()) == ["Audit", "Payments"]
