"""Reading settings from the environment: small typed readers that refuse what they do not
understand, naming the variable, instead of quietly turning a protection off."""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured

from accessgroups.core.throttling import parse_rate

_TRUE_WORDS, _FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# The database cache's table (CACHE_URL=db://), made by migrate.
CACHE_TABLE = "portal_cache"
# Django's console backend, one line per message unless LOG_LEVEL=DEBUG.
CONSOLE_EMAIL_BACKEND = "portal.console_mail.EmailBackend"


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_switch(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in _TRUE_WORDS + _FALSE_WORDS:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(_TRUE_WORDS + _FALSE_WORDS)}; got {value!r}."
        )
    return value in _TRUE_WORDS


def env_count(name: str, default: int, *, least: int, unit: str) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < least:
        raise ImproperlyConfigured(
            f"{name} must be a whole number of {unit}, at least {least}; got {value!r}."
        )
    return int(value)


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` (compared without case); anything else stops the start-up."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


# Runs of one query on one connection before it is prepared (psycopg's own default).
PREPARE_AFTER = 5


def database_settings(*, default_url: str, debug: bool) -> dict:
    """DATABASE_URL (else ``default_url``) with persistent connections.

    DATABASE_CONN_MAX_AGE is how many seconds a process keeps its connection between
    requests or tasks: 60 by default in production, where opening one per request costs a
    TLS handshake and an authentication; 0 (a connection per request) with DEBUG, where the
    development server's threads and the tests should not hold connections open. Health
    checks make a connection that the database closed meanwhile reopen instead of failing
    the next request.
    """
    import dj_database_url

    database = dj_database_url.parse(
        os.environ.get("DATABASE_URL") or default_url,
        conn_max_age=env_count("DATABASE_CONN_MAX_AGE", 0 if debug else 60, least=0, unit="seconds"),
        conn_health_checks=True,
    )
    # Behind PgBouncer in transaction pooling, the server-side cursors that the exports'
    # .iterator() opens on PostgreSQL would outlive the transaction they were declared in.
    if env_switch("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False):
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
    # Prepared statements on PostgreSQL: the values go apart from the SQL (server-side
    # binding), and a query a connection has run PREPARE_AFTER times is prepared, so that
    # PostgreSQL plans it once per connection rather than at every request. The pages' queries
    # are the same few at every request; planning them was much of PostgreSQL's time.
    prepared = env_switch("DATABASE_PREPARED_STATEMENTS", True)
    if prepared and database["ENGINE"] == "django.db.backends.postgresql":
        database.setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=PREPARE_AFTER
        )
    return database


def identity_source_settings() -> tuple[str, str]:
    """(IDENTITY_SOURCE, IDENTITY_MATCH), checked together.

    ``identity_center``: the portal creates identity store users, matched by username as
    always. ``external``: an identity provider (SCIM) owns the users; the portal only finds
    them, by email (the default), username or the provider's external id.
    """
    source = env_choice("IDENTITY_SOURCE", ("identity_center", "external"), "identity_center")
    match = env_choice("IDENTITY_MATCH", ("email", "username", "external_id"), "")
    if source == "identity_center":
        if match not in ("", "username"):
            raise ImproperlyConfigured(
                f"IDENTITY_MATCH={match} needs IDENTITY_SOURCE=external; with "
                "IDENTITY_SOURCE=identity_center the portal creates the users and matches them "
                "by username (leave IDENTITY_MATCH unset or set it to username)."
            )
        return source, "username"
    return source, match or "email"


def proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto,https`` (or Django's spelling ``HTTP_X_FORWARDED_PROTO,https``)
    -> Django's ``("HTTP_X_FORWARDED_PROTO", "https")``; empty -> None."""
    if not value.strip():
        return None
    header, _, expected = (part.strip() for part in value.partition(","))
    meta = header.upper().replace("-", "_")
    meta = meta if meta.startswith("HTTP_") else f"HTTP_{meta}"
    if not expected or not re.fullmatch(r"HTTP_[A-Z0-9_]+", meta):
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be the header your TLS proxy sets and the value that "
            f"means HTTPS, separated by a comma, e.g. X-Forwarded-Proto,https; got {value!r}."
        )
    return meta, expected


def email_from_url(url: str) -> dict:
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": CONSOLE_EMAIL_BACKEND}
    if parts.scheme not in ("smtp", "smtps"):
        raise ImproperlyConfigured(f"EMAIL_URL: unknown scheme {parts.scheme!r} (smtp, smtps, console).")
    query = {k: v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls") in ("1", "true", "yes", "on"),
    }


def email_settings(debug: bool) -> dict:
    """EMAIL_URL, else the EMAIL_HOST/EMAIL_PORT/... variables; with DEBUG and neither, the
    console backend."""
    if os.environ.get("EMAIL_URL"):
        return email_from_url(os.environ["EMAIL_URL"])
    return {
        "EMAIL_BACKEND": os.environ.get("EMAIL_BACKEND")
        or (
            CONSOLE_EMAIL_BACKEND
            if debug and not os.environ.get("EMAIL_HOST")
            else "django.core.mail.backends.smtp.EmailBackend"
        ),
        "EMAIL_HOST": os.environ.get("EMAIL_HOST", "localhost"),
        "EMAIL_PORT": env_int("EMAIL_PORT", 25),
        "EMAIL_HOST_USER": os.environ.get("EMAIL_HOST_USER", ""),
        "EMAIL_HOST_PASSWORD": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "EMAIL_USE_TLS": env_bool("EMAIL_USE_TLS", False),
        "EMAIL_USE_SSL": env_bool("EMAIL_USE_SSL", False),
    }


def cache_from_url(url: str, key_prefix: str) -> dict:
    scheme = url.partition("://")[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        return {
            # Django's RedisCache, which falls back to this process's memory while Redis
            # cannot be reached, instead of answering every sign-in and API call with 500.
            "BACKEND": "portal.cache.FallbackRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": key_prefix,
            # A Redis that does not answer costs a request about a second, not a hang.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1},
        }
    if scheme == "db":
        return {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,
            "KEY_PREFIX": key_prefix,
            # Django culls a third of the table (alphabetically) past MAX_ENTRIES, limits
            # included: keep that far above what the limits below can fill.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    raise ImproperlyConfigured(
        f"CACHE_URL: unknown scheme {scheme!r} (redis://, rediss://, unix:// or db://). "
        "Per-process memory is refused: limits must be shared by every process."
    )


def env_rate(name: str, default: str) -> str:
    """A rate from the environment ('120/minute', '5/15m'), refused at start-up if malformed."""
    value = os.environ.get(name) or default
    try:
        parse_rate(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    return value
