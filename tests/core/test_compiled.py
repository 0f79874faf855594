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


def _fields(instance):
    return [(f.attname, getattr(instance, f.attname)) for f in type(instance)._meta.concrete_fields]


def test_instances_are_the_orms_with_every_field_converted(alice, bob, readonly):
    asked = _ask(alice, readonly)
    asked.refresh_from_db()
    for person in (alice, bob):
        found = compiled.instances("user", lambda pk: User.objects.filter(pk=pk), (person.pk,))
        orm = User.objects.filter(pk=person.pk).get()
        assert len(found) == 1 and _fields(found[0]) == _fields(orm)
        # Converted as the ORM converts them: booleans are bools on SQLite too.
        assert type(found[0].is_active) is bool and found[0].date_joined.tzinfo is not None
        assert found[0]._state.db == "default" and not found[0]._state.adding
    (request,) = compiled.instances(
        "request", lambda pk: AccessRequest.objects.filter(requester_id=pk), (alice.pk,)
    )
    assert _fields(request) == _fields(asked)
    assert compiled.instances("user", lambda pk: User.objects.filter(pk=pk), (-1,)) == []


@pytest.mark.parametrize(
    "build",
    [
        lambda pk: User.objects.filter(pk=pk).values_list("pk"),
        lambda pk: User.objects.filter(pk=pk).values("pk"),
        lambda pk: User.objects.filter(pk=pk).only("username"),
        lambda pk: AccessRequest.objects.filter(pk=pk).select_related("requester"),
    ],
)
def test_instances_are_whole_models_only(alice, build):
    with pytest.raises(TypeError):
        compiled.instances("partial", build, (alice.pk,))


def test_the_user_by_pk_is_the_orms_in_one_query(alice, bob):
    for person in (alice, bob):
        with CaptureQueriesContext(connection) as captured:
            found = User.objects.get(pk=person.pk)
        assert len(captured) == 1 and _fields(found) == _fields(
            User.objects.filter(pk=person.pk).get()
        )
    with pytest.raises(User.DoesNotExist, match="User matching query does not exist"):
        User.objects.get(pk=alice.pk + bob.pk + 1000)


def test_relations_and_other_lookups_still_filter(alice, bob, readonly):
    # readonly's approver is bob, not alice: the relation's manager must keep its filter.
    assert readonly.approvers.get(pk=bob.pk) == bob
    with pytest.raises(User.DoesNotExist):
        readonly.approvers.get(pk=alice.pk)
    assert User.objects.get(pk=str(alice.pk)) == alice
    assert User.objects.get(username="bob") == bob
    with pytest.raises(User.DoesNotExist):
        User.objects.get(pk=alice.pk, username="bob")


def test_a_migrations_historical_user_is_read_by_the_orm(alice):
    from django.db.migrations.loader import MigrationLoader

    historical = MigrationLoader(connection).project_state().apps.get_model("accessgroups", "User")
    found = historical.objects.get(pk=alice.pk)
    assert type(found) is historical and found.username == "alice"
