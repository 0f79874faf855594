"""The who-has-access JSON pages: found by a row's key through a cursor, the count exact,
the cost of a page the same however deep it is."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    Account,
    Membership,
    MembershipSource,
    ProvisioningStatus,
    User,
)
from accessgroups.reports.rows import CURSOR_SALT, cursor_token
from accessgroups.reports.selectors import who_has_access
from tests.api.helpers import assert_bad_input, database_fingerprint

URL = "/api/v1/reports/who-has-access/"
IN_SYNC = ProvisioningStatus.IN_SYNC
ROWS = 60 * 3 * 2


@pytest.fixture
def organisation(dave):
    """60 people each in 3 of 4 groups, each group on 2 of 3 accounts: 360 rows, 8 pages.
    Two in three of them expire tomorrow."""
    now = timezone.now()
    accounts = Account.objects.bulk_create(
        Account(account_id=f"{400000000000 + n:012d}", name=f"acct-{n}") for n in range(3)
    )
    groups = AccessGroup.objects.bulk_create(
        AccessGroup(name=f"g{n}", provisioning_status=IN_SYNC) for n in range(4)
    )
    AccessGroupAccount.objects.bulk_create(
        AccessGroupAccount(
            access_group=g,
            account=accounts[(i + k) % 3],
            valid_from=now - timedelta(days=2),
            provisioning_status=IN_SYNC,
        )
        for i, g in enumerate(groups)
        for k in range(2)
    )
    people = User.objects.bulk_create(
        User(username=f"p{n:02d}", email=f"p{n}@example.com", password="!") for n in range(60)
    )
    Membership.objects.bulk_create(
        Membership(
            user=person,
            access_group=groups[(n + j) % 4],
            source=MembershipSource.ADMIN,
            granted_by=dave,
            granted_at=now - timedelta(days=1),
            activated_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=1) if n % 3 else None,
            provisioning_status=IN_SYNC,
        )
        for n, person in enumerate(people)
        for j in range(3)
    )
    return {"groups": groups, "accounts": accounts}


def _key(row: dict) -> tuple[str, str, str]:
    return (row["username"], row["access_group"], row["account_id"])


def _walk(client, url: str) -> list[dict]:
    """Every page from ``url`` on by its next links; each is checked and its body kept."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        pages.append(page)
        url = page["next"]
    return pages


def test_next_visits_every_row_once_and_previous_walks_back(api, carol, organisation):
    client = api(carol)
    pages = _walk(client, URL)
    rows = [_key(r) for page in pages for r in page["results"]]
    assert rows == [_key(r) for r in who_has_access()]
    assert len(rows) == len(set(rows)) == ROWS
    assert [len(p["results"]) for p in pages] == [50] * 7 + [10]
    assert {p["count"] for p in pages} == {ROWS}
    assert pages[0]["previous"] is None
    for page in pages[1:]:
        assert "cursor=" in page["previous"] and "page=" not in page["previous"]
    # And back, from the last page: each previous link gives the page before, its rows
    # and its links.
    for later, earlier in zip(pages[:0:-1], pages[-2::-1], strict=True):
        back = client.get(later["previous"]).json()
        assert back["results"] == earlier["results"]
        assert back["count"] == ROWS
        assert (back["previous"] is None) == (earlier["previous"] is None)


def test_a_page_number_gives_the_rows_a_cursor_does_and_links_by_cursor(
    api, carol, organisation
):
    client = api(carol)
    by_cursor = _walk(client, URL)
    for number in (1, 3, 8):
        page = client.get(URL, {"page": number}).json()
        assert page["results"] == by_cursor[number - 1]["results"]
        assert page["count"] == ROWS
        if number < 8:
            assert "cursor=" in page["next"] and "page=" not in page["next"]
            assert client.get(page["next"]).json()["results"] == by_cursor[number]["results"]
        else:
            assert page["next"] is None
        if number > 1:
            back = client.get(page["previous"]).json()["results"]
            assert back == by_cursor[number - 2]["results"]
        else:
            assert page["previous"] is None
    assert client.get(URL, {"page": "last"}).json()["results"] == by_cursor[-1]["results"]
    assert client.get(URL, {"page": 9}).status_code == 404


def test_links_keep_the_filters(api, carol, organisation):
    client = api(carol)
    group, account = organisation["groups"][0], organisation["accounts"][0]
    tomorrow = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f"?access_group={group.pk}&expiring_before={tomorrow}&format=json"
    pages = _walk(client, URL + query)
    assert len(pages) > 1
    for page in pages[1:]:
        kept = parse_qs(urlsplit(page["previous"]).query)
        assert kept["access_group"] == [str(group.pk)]
        assert kept["expiring_before"] == [tomorrow]
    rows = [r for page in pages for r in page["results"]]
    expected = list(who_has_access(access_group=group, expiring_before=timezone.now() + timedelta(days=2)))
    assert [_key(r) for r in rows] == [_key(r) for r in expected]
    assert pages[0]["count"] == len(expected) > 0
    # Several pages of one account, and of the past: the filters stay in every link.
    pages = _walk(client, URL + f"?account={account.account_id}")
    assert len(pages) > 1
    assert all(r["account_id"] == account.account_id for p in pages for r in p["results"])
    assert sum(len(p["results"]) for p in pages) == pages[0]["count"]
    at = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pages = _walk(client, URL + f"?at={at}")
    assert len(pages) == 8
    assert all(f"at={at.replace(':', '%3A')}" in p["next"] for p in pages[:-1])


def test_a_late_page_costs_the_queries_of_the_first(
    api, carol, organisation, django_assert_max_num_queries
):
    client = api(carol)
    pages = _walk(client, URL)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first = queries(URL)
    assert queries(pages[-2]["next"]) == first
    assert queries(pages[3]["next"]) == first
    # Authentication, the count (two aggregates), the page's rows; nothing per row.
    with django_assert_max_num_queries(6):
        client.get(pages[-2]["next"])


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "x",
        "W10=",  # base64 of []: the web page's old unsigned keys
        signing.dumps(["after", ["p00", "g0", "400000000000", 1]], salt="another"),
        signing.dumps(["after", ["p00", "g0"]], salt=CURSOR_SALT),
        signing.dumps(["sideways", ["p00", "g0", "400000000000", 1]], salt=CURSOR_SALT),
        signing.dumps(["after", ["p00", "g0", "400000000000", "1"]], salt=CURSOR_SALT),
        signing.dumps(["after", ["p\x0000", "g0", "400000000000", 1]], salt=CURSOR_SALT),
        signing.dumps({"after": 1}, salt=CURSOR_SALT),
    ],
)
def test_a_bad_cursor_is_refused_naming_it(api, carol, organisation, cursor):
    client = api(carol)
    before = database_fingerprint()
    assert_bad_input(client.get(URL, {"cursor": cursor}), "cursor", before)


def test_a_tampered_cursor_is_refused(api, carol, organisation):
    client = api(carol)
    token = parse_qs(urlsplit(client.get(URL).json()["next"]).query)["cursor"][0]
    payload, signature = token.rsplit(":", 1)
    forged = cursor_token("after", ("p59", "g0", "400000000000", 1)).rsplit(":", 1)[0]
    for bad in (f"{forged}:{signature}", f"{payload}:{signature[::-1]}", payload):
        response = client.get(URL, {"cursor": bad})
        assert response.status_code == 400
        assert "cursor" in response.json()


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 403), ("carol", 200), ("dave", 200), (None, 401)]
)
def test_only_auditors_and_admins(api, alice, carol, dave, organisation, who, status):
    user = {"alice": alice, "carol": carol, "dave": dave, None: None}[who]
    cursor = cursor_token("after", ("p10", "g0", "400000000000", 1))
    for query in ({}, {"cursor": cursor}, {"page": 2}):
        response = api(user).get(URL, query)
        assert response.status_code in ((401, 403) if status == 401 else (status,))
        if status != 200:
            assert "results" not in response.json()
