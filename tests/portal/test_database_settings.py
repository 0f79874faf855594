"""DATABASE_CONN_MAX_AGE: persistent connections in production, one per request with DEBUG,
and a start-up error naming the variable for a value it does not understand.
DATABASE_PREPARED_STATEMENTS: PostgreSQL plans the pages' queries once per connection."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import database_settings

SQLITE = "sqlite:///portal.sqlite3"


@pytest.fixture(autouse=True)
def no_database_env(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)
    monkeypatch.delenv("DATABASE_DISABLE_SERVER_SIDE_CURSORS", raising=False)
    monkeypatch.delenv("DATABASE_PREPARED_STATEMENTS", raising=False)


def test_production_keeps_connections_for_a_minute_with_health_checks():
    database = database_settings(default_url=SQLITE, debug=False)
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (60, True)


def test_debug_opens_a_connection_per_request():
    database = database_settings(default_url=SQLITE, debug=True)
    assert (database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]) == (0, True)


@pytest.mark.parametrize("value, seconds", [("0", 0), ("300", 300), (" 15 ", 15)])
def test_the_variable_sets_the_age(monkeypatch, value, seconds):
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", value)
    monkeypatch.setenv("DATABASE_URL", "postgres://portal:secret@db.example.com:5432/portal")
    database = database_settings(default_url=SQLITE, debug=False)
    assert database["CONN_MAX_AGE"] == seconds
    assert (database["ENGINE"], database["HOST"]) == ("django.db.backends.postgresql", "db.example.com")


@pytest.mark.parametrize("value", ["-1", "1.5", "forever", "none"])
def test_a_value_it_does_not_understand_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", value)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE"):
        database_settings(default_url=SQLITE, debug=False)


def test_server_side_cursors_can_be_turned_off_for_transaction_pooling(monkeypatch):
    assert not database_settings(default_url=SQLITE, debug=False).get("DISABLE_SERVER_SIDE_CURSORS")
    monkeypatch.setenv("DATABASE_DISABLE_SERVER_SIDE_CURSORS", "1")
    assert database_settings(default_url=SQLITE, debug=False)["DISABLE_SERVER_SIDE_CURSORS"] is True
    monkeypatch.setenv("DATABASE_DISABLE_SERVER_SIDE_CURSORS", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_DISABLE_SERVER_SIDE_CURSORS"):
        database_settings(default_url=SQLITE, debug=False)


def test_the_test_run_opens_a_connection_per_request(settings):
    # tests/settings.py: live servers' threads must not hold the test database open.
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0


POSTGRES = "postgres://portal:secret@db.example.com:5432/portal"


def test_postgresql_prepares_statements_unless_turned_off(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", POSTGRES)
    options = database_settings(default_url=SQLITE, debug=False)["OPTIONS"]
    assert options["server_side_binding"] is True and options["prepare_threshold"] == 5
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "0")
    options = database_settings(default_url=SQLITE, debug=False).get("OPTIONS", {})
    assert "server_side_binding" not in options and "prepare_threshold" not in options
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "sometimes")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_PREPARED_STATEMENTS"):
        database_settings(default_url=SQLITE, debug=False)


def test_sqlite_has_no_prepared_statement_options():
    assert "prepare_threshold" not in database_settings(default_url=SQLITE, debug=False).get(
        "OPTIONS", {}
    )


@pytest.mark.django_db
def test_on_postgresql_a_query_run_five_times_is_prepared_and_answers_the_same():
    from django.db import connection

    from accessgroups.models import User

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    User.objects.create(username="prepared-one")

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ["%accessgroups_user%username%"],
            )
            return cursor.fetchone()[0]

    before = prepared()
    answers = [
        list(User.objects.filter(username=f"prepared-{n}").values_list("username"))
        for n in ("one", "two", "one", "two", "one", "two")
    ]
    assert answers == [[("prepared-one",)], [], [("prepared-one",)], [], [("prepared-one",)], []]
    assert prepared() > before
