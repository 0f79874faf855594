"""Queries whose SQL is built once per process (accessgroups.core.compiled): the rows are
those of the ORM's own query, whatever the values, and the builder runs once per key."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count, Window
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accessgroups.core import compiled
from accessgroups.models import AccessGroup, AccessRequest, User

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
    # Built twice with stand-ins (the second checks the first), never with a real value.
    assert len(built) == 2 and built[0] == built[1]
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
    ],
)
def test_instances_are_models_not_values(alice, build):
    with pytest.raises(TypeError):
        compiled.instances("values", build, (alice.pk,))


def _shown(request):
    """Everything the ORM loaded of a request, its relations and its prefetched decisions,
    without loading anything more (a deferred field read would be a query)."""
    loaded = {
        f.attname: getattr(request, f.attname)
        for f in AccessRequest._meta.concrete_fields
        if f.attname in request.__dict__
    }
    group = request._state.fields_cache.get("access_group")
    membership = request._state.fields_cache.get("membership", "absent")
    return (
        loaded,
        None if group is None else (group.pk, group.name, group.get_deferred_fields()),
        membership if membership in (None, "absent") else (membership.pk, membership.user_id),
        request.get_deferred_fields(),
        getattr(request, "shown_total", "none"),
        [
            (d.pk, d.decided_by.username)
            for d in request.__dict__.get("_prefetched_objects_cache", {}).get("decisions", [])
        ],
    )


def _requests_with_relations(pk):
    return (
        AccessRequest.objects.filter(requester_id=pk, status__in=["pending", "rejected"])
        .select_related("access_group", "membership")
        .only("status", "justification", "access_group__name", "membership__user")
        .annotate(shown_total=Window(Count("*")))
        .prefetch_related("decisions__decided_by")
        .order_by("created_at", "pk")[:2]
    )


def test_instances_carry_relations_deferred_fields_annotations_and_prefetches(
    alice, bob, readonly, limited
):
    from accessgroups.models import Decision, Membership

    first = _ask(alice, readonly)
    Decision.objects.create(
        request=first, requester=alice, decided_by=bob, outcome="approve", access_group_version=1
    )
    held = Membership.objects.create(user=alice, access_group=limited)
    second = _ask(alice, limited, status="rejected")
    second.membership = held
    second.save()
    _ask(alice, readonly, status="rejected")  # a third: the slice takes two
    _ask(bob, limited)
    built = []

    def build(pk):
        built.append(pk)
        return _requests_with_relations(pk)

    for person in (alice, bob, alice):
        with CaptureQueriesContext(connection) as captured:
            found = compiled.instances("with relations", build, (person.pk,))
            shown = [_shown(r) for r in found]
        orm = [_shown(r) for r in _requests_with_relations(person.pk)]
        assert shown == orm and len(found) == (2 if person == alice else 1)
        # The page's query and the prefetches' (the deciders' only where there are decisions):
        # nothing is read afterwards.
        assert len(captured) == (3 if person == alice else 2)
    assert len(built) == 2  # the build and its check, for every value
    assert found[0].get_deferred_fields() >= {"duration_hours", "created_at"}


def test_distinct_rows_ordered_by_a_relation_drop_the_ordering_column(alice, readonly, limited):
    _ask(alice, readonly)
    _ask(alice, limited)

    def build(pk):
        return (
            AccessGroup.objects.filter(requests__requester_id=pk)
            .order_by("-requests__pk")
            .distinct()
        )

    found = compiled.instances("distinct", build, (alice.pk,))
    orm = list(build(alice.pk))
    assert [g.pk for g in found] == [g.pk for g in orm] == [limited.pk, readonly.pk]
    assert _fields(found[0]) == _fields(orm[0])


def test_a_moment_the_sql_would_keep_is_refused(alice):
    def build(pk):
        return User.objects.filter(pk=pk, date_joined__lte=timezone.now())

    with pytest.raises(compiled.NotCompilable, match="moment"):
        compiled.instances("now", build, (alice.pk,))


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
