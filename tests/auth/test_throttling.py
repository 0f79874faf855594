"""Failed sign-ins are limited per account and per client address, in the shared cache.

Every test here runs against the machine's Redis (`shared_cache`: db 15, a key prefix of
the test's own), with CSRF enforced as a browser meets it. The portal's configured limits
are used unless a test names smaller ones to stay quick.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection
from django.test import Client
from django.urls import reverse

from accessgroups.core.throttling import parse_rate

PASSWORD = "correct horse battery staple"  # tests/conftest.py's make_user
WRONG = "not the password"
REPO = Path(__file__).resolve().parents[2]


def browser(address: str = "198.51.100.7", **headers: str) -> Client:
    """A client that must send the CSRF token, from ``address``."""
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=address, **headers)


def sign_in(client: Client, login: str, password: str):
    page = client.get(reverse("account_login"))
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client.post(
        reverse("account_login"),
        {"login": login, "password": password, "csrfmiddlewaretoken": token},
    )


def assert_wrong_password(response) -> None:
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def assert_paused(response, *, at_most: int) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= at_most
    page = response.content.decode()
    assert "Too many attempts" in page
    assert "too many sign-in attempts" in page
    assert "Try again in about" in page
    assert "_auth_user_id" not in response.client.session


def failures_per_account() -> tuple[int, int]:
    from django.conf import settings

    rate = parse_rate(settings.LOGIN_FAILED_PER_ACCOUNT)
    return rate.count, rate.seconds


def set_login_failed(settings, *, per_address: str, per_account: str) -> None:
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "login_failed": f"{parse_rate(per_address)}/ip,{parse_rate(per_account)}/key",
    }


def test_after_the_accounts_failures_even_the_right_password_is_refused_from_anywhere(
    shared_cache, alice, bob
):
    count, seconds = failures_per_account()
    attacker = browser("198.51.100.7")
    for _ in range(count):
        assert_wrong_password(sign_in(attacker, "alice", WRONG))

    assert_paused(sign_in(attacker, "alice", PASSWORD), at_most=seconds)
    # Per account: alice herself, from another address, waits too.
    assert_paused(sign_in(browser("203.0.113.20"), "alice", PASSWORD), at_most=seconds)
    # Another account from the attacker's address is not paused by alice's failures.
    assert sign_in(browser("198.51.100.7"), "bob", PASSWORD).status_code == 302


def test_every_name_of_an_account_counts_against_it(shared_cache, alice):
    count, seconds = failures_per_account()
    client = browser()
    for n in range(count):
        login = "alice" if n % 2 else "ALICE@Example.com"
        assert_wrong_password(sign_in(client, login, WRONG))

    assert_paused(sign_in(client, "alice", PASSWORD), at_most=seconds)
    assert_paused(sign_in(client, "alice@example.com", PASSWORD), at_most=seconds)


def test_many_accounts_from_one_address_hit_the_address_limit(settings, shared_cache, make_user):
    set_login_failed(settings, per_address="6/15m", per_account="5/15m")
    make_user("frank")
    sprayer = browser("198.51.100.7")
    # One guess per name: no account comes near its own limit.
    for login in ("alice", "bob", "carol", "dave", "erin", "frank"):
        assert_wrong_password(sign_in(sprayer, login, WRONG))

    assert_paused(sign_in(sprayer, "frank", PASSWORD), at_most=900)
    # frank's account is not paused: from his own address the password works.
    assert sign_in(browser("203.0.113.20"), "frank", PASSWORD).status_code == 302


def test_the_pause_ends_when_the_oldest_failure_is_a_period_old(settings, shared_cache, alice):
    set_login_failed(settings, per_address="30/15m", per_account="2/2s")
    client = browser()
    assert_wrong_password(sign_in(client, "alice", WRONG))
    assert_wrong_password(sign_in(client, "alice", WRONG))
    assert_paused(sign_in(client, "alice", PASSWORD), at_most=2)

    time.sleep(2.2)

    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_a_forged_x_forwarded_for_does_not_give_fresh_allowances(settings, shared_cache, alice):
    # No trusted proxy (the default): the header is the client's own words.
    set_login_failed(settings, per_address="3/15m", per_account="5/15m")
    for n, login in enumerate(("bob", "carol", "dave")):
        assert_wrong_password(
            sign_in(browser(HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"), login, WRONG)
        )

    assert_paused(
        sign_in(browser(HTTP_X_FORWARDED_FOR="192.0.2.99"), "alice", PASSWORD), at_most=900
    )


def test_behind_a_load_balancer_clients_are_counted_by_forwarded_address(
    settings, shared_cache, alice
):
    settings.TRUSTED_PROXY_COUNT = 1
    set_login_failed(settings, per_address="3/15m", per_account="5/15m")
    balancer = "10.0.0.5"
    for login in ("bob", "carol", "dave"):
        # What the client wrote first is ignored; the balancer appended the real address.
        client = browser(balancer, HTTP_X_FORWARDED_FOR=f"192.0.2.{len(login)}, 198.51.100.7")
        assert_wrong_password(sign_in(client, login, WRONG))

    paused = browser(balancer, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert_paused(sign_in(paused, "alice", PASSWORD), at_most=900)
    # Another client through the same balancer is not.
    other = browser(balancer, HTTP_X_FORWARDED_FOR="203.0.113.20")
    assert sign_in(other, "alice", PASSWORD).status_code == 302


def test_too_many_sign_in_posts_get_the_portals_429_page(settings, shared_cache, alice):
    # allauth's "login" limit (every POST, right or wrong) answers through handler429.
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/60s/ip"}
    client = browser()
    assert_wrong_password(sign_in(client, "alice", WRONG))
    assert_wrong_password(sign_in(client, "bob", WRONG))

    assert_paused(sign_in(client, "alice", PASSWORD), at_most=60)


def _database_url() -> str:
    """The test database, as a URL another process can open."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


# Signs in with a wrong password from another process: its own Django, its own connection
# to Redis, nothing shared with the test's process but Redis and the database.
_OTHER_PROCESS = r"""
import json, re, sys
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
job = json.loads(sys.argv[1])
setup_test_environment()
codes = []
with override_settings(CACHES=job["caches"]):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=job["address"])
    for _ in range(job["attempts"]):
        page = client.get("/accounts/login/").content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = client.post(
            "/accounts/login/",
            {"login": job["login"], "password": job["password"], "csrfmiddlewaretoken": token},
        )
        codes.append(response.status_code)
print(json.dumps(codes))
"""


def test_failures_in_two_processes_add_up(transactional_db, shared_cache, alice):
    count, seconds = failures_per_account()
    here = count // 2
    for _ in range(here):
        assert_wrong_password(sign_in(browser("198.51.100.7"), "alice", WRONG))

    job = {
        "caches": {"default": shared_cache},
        "address": "203.0.113.20",
        "login": "alice@example.com",
        "password": WRONG,
        "attempts": count - here,
    }
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
    }
    result = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, json.dumps(job)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [200] * (count - here)

    assert_paused(sign_in(browser("192.0.2.1"), "alice", PASSWORD), at_most=seconds)


def test_the_database_cache_holds_the_limits_without_redis(settings, db, alice):
    # No Redis configured: migrate makes the cache table, and the limits count there.
    from django.core.management import call_command

    from portal.env import cache_from_url

    settings.CACHES = {"default": cache_from_url("db://", "test-db-cache")}
    call_command("migrate", verbosity=0)
    assert settings.CACHES["default"]["LOCATION"] in connection.introspection.table_names()

    count, seconds = failures_per_account()
    for _ in range(count):
        assert_wrong_password(sign_in(browser(), "alice", WRONG))
    assert_paused(sign_in(browser("203.0.113.20"), "alice", PASSWORD), at_most=seconds)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {settings.CACHES['default']['LOCATION']}")
        assert cursor.fetchone()[0] >= 1
