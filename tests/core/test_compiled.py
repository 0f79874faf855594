"""Queries whose SQL is built once per process (accessgroups.core.compiled): the rows are
those of the ORM's own query, whatever the values, and the builder runs once per key."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accessgroups.core import compiled
from accessgroups.models import AccessRequest, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh():
    compiled.forget()
    yield
    compiled.forget()


def _requests_of(pk: int, status: str):
    return (
        AccessRequest.objects.filter(requester_id=pk, status=status)
        .order_by("pk")
        .values_list("pk", "access_group__name")
    )


def _ask(person, group, status="pending"):
    return AccessRequest.objects.create(
        requester=person, access_group=group, justification="for the tests", status=status
    )


def test_rows_are_the_orms_for_every_value_and_the_sql_is_built_once(alice, bob, readonly, limited):
    mine = [_ask(alice, readonly), _ask(alice, limited)]
    theirs = _ask(bob, readonly, status="rejected")
    built = []

    def build(pk, status):
        built.append((pk, status))
        return _requests_of(pk, status)

    for person in (alice, bob):
        for status in ("pending", "rejected", "approved"):
            with CaptureQueriesContext(connection) as captured:
                found = compiled.rows("requests", build, (person.pk, status))
            assert found == list(_requests_of(person.pk, status))
            assert len(captured) == 1
    assert len(built) == 1  # with stand-ins, never a real value
    assert built[0][0] not in (alice.pk, bob.pk) and built[0][1] not in ("pending", "rejected")
    assert compiled.rows("requests", build, (alice.pk, "pending")) == [
        (r.pk, r.access_group.name) for r in mine
    ]
    assert compiled.rows("requests", build, (bob.pk, "rejected")) == [(theirs.pk, readonly.name)]


def test_a_value_the_sql_does_not_carry_is_refused(alice):
    # The shape depends on the value: compiling it would answer every later value with the
    # first one's query.
    def build(pk, which):
        chosen = User.objects.filter(pk=pk)
        return (chosen if which == "active" else chosen.filter(is_active=False)).values_list("pk")

    with pytest.raises(compiled.NotCompilable):
        compiled.rows("branches", build, (alice.pk, "active"))


@pytest.mark.parametrize("value", [True, 1.5, None, b"x"])
def test_values_are_ints_and_strings(value):
    with pytest.raises(TypeError):
        compiled.rows("odd", lambda v: User.objects.filter(pk=v).values_list("pk"), (value,))


def test_keys_keep_queries_apart(alice, bob):
    by_pk = compiled.rows(
        "one", lambda pk: User.objects.filter(pk=pk).values_list("username"), (alice.pk,)
    )
    by_name = compiled.rows(
        "two", lambda name: User.objects.filter(username=name).values_list("pk"), (bob.username,)
    )
    assert by_pk == [("alice",)] and by_name == [(bob.pk,)]
