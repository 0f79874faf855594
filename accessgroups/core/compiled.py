"""Queries whose SQL is built once per process, for the questions every request asks.

Building a query's SQL costs the ORM more than running it costs the database when the query
has subqueries: the three EXISTS of ``accessgroups.auth.standing`` take 2 to 3 ms of Python
to build and 0.2 ms to run, on every page. A compiled query builds its SQL the first time
it is asked, from the same ORM code as always, with stand-in values; every later run puts
the real values where the stand-ins were and sends the SQL as it is.

Only for a query whose shape does not depend on its values: the builder is called with
stand-ins, and the SQL it gives must carry each stand-in as a parameter (checked). When the
shape depends on something else (whether a user has an Identity Center id, say), that goes
into the key. ``rows`` gives the rows as the database driver gives them, without the ORM's
field converters (SQLite's booleans are 0 and 1); ``instances`` gives model instances as the
ORM makes them, converters applied.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

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
    slots: list[int] = []
    for param in params:
        try:
            slots.append(stand_ins.index(param))
        except ValueError:
            slots.append(-1)
    missing = set(range(len(stand_ins))) - set(slots)
    if missing:
        raise NotCompilable(f"the query does not take value(s) {sorted(missing)} as parameters")
    return (sql, tuple(params), tuple(slots), *_model_rows(queryset, compiler))


def _model_rows(queryset: QuerySet, compiler) -> tuple:
    """For a query of whole model instances: the model, the attribute of each column, and
    the converters of the columns that have any (as ``ModelIterable`` reads them)."""
    query = queryset.query
    if (
        queryset._iterable_class is not ModelIterable
        or query.select_related
        or query.annotation_select
        or query.extra_select
        or query.deferred_loading != (frozenset(), True)
    ):
        return (None, (), ())
    columns = [column for column, _sql, _alias in compiler.select]
    attnames = tuple(column.target.attname for column in columns)
    converters = tuple(compiler.get_converters(columns).items())
    return (queryset.model, attnames, converters)


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
    """The model instances of ``build(*values)``, as the ORM would make them, its SQL built
    once per process under ``key``. The builder gives whole instances of one model: no
    ``select_related``, ``only``, ``defer``, annotations or ``values`` (else ``TypeError``)."""
    (_sql, _params, _slots, model, attnames, converters), found = _run(key, build, values, using)
    if model is None:
        raise TypeError(f"compiled query {key!r} does not give whole model instances")
    connection = connections[using]
    made = []
    for row in found:
        if converters:
            row = list(row)
            for position, (functions, expression) in converters:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
        made.append(model.from_db(using, attnames, row))
    return made


def forget() -> None:
    """Drops every compiled query (tests that change the database's vendor or schema)."""
    with _lock:
        _compiled.clear()
