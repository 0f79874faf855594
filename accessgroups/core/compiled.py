"""Queries whose SQL is built once per process, for the questions every request asks.

Building a query's SQL costs the ORM more than running it costs the database when the query
has subqueries: the three EXISTS of ``accessgroups.auth.standing`` take 2 to 3 ms of Python
to build and 0.2 ms to run, on every page. A compiled query builds its SQL the first time
it is asked, from the same ORM code as always, with stand-in values; every later run puts
the real values where the stand-ins were and sends the SQL as it is.

Only for a query whose shape does not depend on its values: the builder is called with
stand-ins, and the SQL it gives must carry each stand-in as a parameter (checked). When the
shape depends on something else (whether a user has an Identity Center id, say), that goes
into the key, and so do a slice's bounds (the SQL carries LIMIT and OFFSET as numbers).
A value the SQL carries that is not a stand-in is kept as it was built; a date or time is
refused, and so is a query whose SQL or values differ between two builds with the same
stand-ins (a moment the builder read, "now", would be kept too). ``rows`` gives the
rows as the database driver gives them, without the ORM's field converters (SQLite's
booleans are 0 and 1); ``instances`` gives model instances as the ORM makes them:
converters applied, ``select_related`` objects, ``only()``'s deferred fields, annotations
and ``prefetch_related`` lookups, as ``ModelIterable`` does.
"""

from __future__ import annotations

import copy
import datetime
import threading
from collections.abc import Callable, Hashable, Sequence

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet, prefetch_related_objects
from django.db.models.query import ModelIterable, get_related_populators

# Stand-ins: values no caller passes (ids are positive, ours are far below zero; the
# strings are not identifiers anyone types).
_INT_STAND_IN = -7_300_000_000
_STR_STAND_IN = "\x00compiled-stand-in-{}\x00"

_compiled: dict[tuple[Hashable, str], tuple] = {}
_lock = threading.Lock()


class NotCompilable(ValueError):
    """The builder's SQL does not carry one of its values as a parameter."""


def _stand_ins(values: Sequence[int | str]) -> tuple[int | str, ...]:
    found = []
    for position, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"compiled queries take int and str values, not {type(value)!r}")
        found.append(
            _INT_STAND_IN - position if isinstance(value, int) else _STR_STAND_IN.format(position)
        )
    return tuple(found)


def _compile(build: Callable[..., QuerySet], stand_ins: tuple, using: str) -> tuple:
    queryset = build(*stand_ins)
    compiler = queryset.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    if (sql, params) != build(*stand_ins).query.get_compiler(using=using).as_sql():
        raise NotCompilable("the query changes from one build to the next (it reads a moment?)")
    slots: list[int] = []
    for param in params:
        try:
            slots.append(stand_ins.index(param))
        except ValueError:
            if isinstance(param, datetime.date | datetime.time):
                raise NotCompilable(f"the query keeps the moment {param!r}") from None
            slots.append(-1)
    missing = set(range(len(stand_ins))) - set(slots)
    if missing:
        raise NotCompilable(f"the query does not take value(s) {sorted(missing)} as parameters")
    return (sql, tuple(params), tuple(slots), _model_rows(queryset, compiler, using))


def _model_rows(queryset: QuerySet, compiler, using: str) -> tuple | None:
    """For a query of model instances, what ``ModelIterable`` reads of its compiler to make
    them: the compiler, the columns of the model, the attribute of each, the related
    objects' populators, the annotations' columns and the lookups to prefetch."""
    if queryset._iterable_class is not ModelIterable or queryset._known_related_objects:
        return None
    select, klass_info = compiler.select, compiler.klass_info
    first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    attnames = tuple(column.target.attname for column, _sql, _alias in select[first:last])
    return (
        compiler,
        klass_info["model"],
        (first, last),
        attnames,
        get_related_populators(klass_info, select, using),
        tuple(compiler.annotation_col_map.items()),
        tuple(queryset._prefetch_related_lookups),
    )


def _run(key: Hashable, build: Callable[..., QuerySet], values: Sequence, using: str):
    entry = _compiled.get((key, using))
    if entry is None:
        entry = _compile(build, _stand_ins(values), using)
        with _lock:
            _compiled[(key, using)] = entry
    sql, params, slots = entry[:3]
    bound = [values[slot] if slot >= 0 else param for param, slot in zip(params, slots)]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, bound)
        return entry, cursor.fetchall()


def rows(
    key: Hashable,
    build: Callable[..., QuerySet],
    values: Sequence[int | str],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> list[tuple]:
    """The rows of ``build(*values)``, its SQL built once per process under ``key``."""
    return _run(key, build, values, using)[1]


def instances(
    key: Hashable,
    build: Callable[..., QuerySet],
    values: Sequence[int | str],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> list[Model]:
    """The model instances of ``build(*values)``, as the ORM would make them (related
    objects, deferred fields, annotations, prefetched lookups), its SQL built once per
    process under ``key``. ``values()`` and ``values_list()`` builders are refused
    (``TypeError``): ``rows`` is for those."""
    entry, found = _run(key, build, values, using)
    if entry[3] is None:
        raise TypeError(f"compiled query {key!r} does not give model instances")
    compiler, model, (first, last), attnames, populators, annotations, lookups = entry[3]
    # The compiler of the first run converts the values; this thread's connection is given.
    compiler = copy.copy(compiler)
    compiler.connection = connections[using]
    made = []
    for row in compiler.results_iter([found]):
        instance = model.from_db(using, attnames, row[first:last])
        for populator in populators:
            populator.populate(row, instance)
        for name, position in annotations:
            setattr(instance, name, row[position])
        made.append(instance)
    if lookups and made:
        prefetch_related_objects(made, *lookups)
    return made


def forget() -> None:
    """Drops every compiled query (tests that change the database's vendor or schema)."""
    with _lock:
        _compiled.clear()
