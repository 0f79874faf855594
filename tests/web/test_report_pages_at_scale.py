"""Report pages that do not grow with the data: keyset pages, bounded queries."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessRequest,
    Account,
    Decision,
    DecisionOutcome,
    Membership,
    MembershipSource,
    ProvisioningStatus,
    RequestStatus,
    User,
)
from accessgroups.reports.selectors import who_has_access

pytestmark = pytest.mark.django_db

REPORT = "web:who-has-access"
IN_SYNC = ProvisioningStatus.IN_SYNC


def _page_rows(response) -> list[tuple[str, str, str]]:
    found = re.findall(
        r'<tr class="report-row" data-username="([^"]*)" data-access-group="([^"]*)" '
        r'data-account-id="([^"]*)">',
        response.content.decode(),
    )
    return [tuple(html.unescape(v) for v in row) for row in found]


@pytest.fixture
def organisation(bob, dave):
    """30 people in 3 of 4 groups, each group on 2 of 3 accounts (180 rows, 4 pages); half
    the memberships from a request bob approved. Names share prefixes and a group name
    repeats nothing, so the order has ties on every key but the last."""
    now = timezone.now()
    accounts = Account.objects.bulk_create(
        Account(account_id=f"{300000000000 + n:012d}", name=f"acct-{n}") for n in range(3)
    )
    groups = AccessGroup.objects.bulk_create(
        AccessGroup(name=f"g{n}", provisioning_status=IN_SYNC) for n in range(4)
    )
    AccessGroupAccount.objects.bulk_create(
        AccessGroupAccount(access_group=g, account=accounts[(i + k) % 3], provisioning_status=IN_SYNC)
        for i, g in enumerate(groups)
        for k in range(2)
    )
    people = User.objects.bulk_create(
        User(username=f"u{n:02d}", email=f"u{n}@example.com", password="!") for n in range(30)
    )
    memberships = Membership.objects.bulk_create(
        Membership(
            user=person,
            access_group=groups[(n + j) % 4],
            source=MembershipSource.REQUEST if j % 2 else MembershipSource.ADMIN,
            granted_by=dave,
            granted_at=now,
            activated_at=now,
            provisioning_status=IN_SYNC,
        )
        for n, person in enumerate(people)
        for j in range(3)
    )
    requested = [m for m in memberships if m.source == MembershipSource.REQUEST]
    requests = AccessRequest.objects.bulk_create(
        AccessRequest(
            requester_id=m.user_id,
            access_group_id=m.access_group_id,
            justification="work",
            status=RequestStatus.ACTIVE,
            membership=m,
        )
        for m in requested
    )
    Decision.objects.bulk_create(
        Decision(
            request=r, requester_id=r.requester_id, decided_by=bob, outcome=DecisionOutcome.APPROVE
        )
        for r in requests
    )
    return {"groups": groups, "accounts": accounts, "rows": 30 * 3 * 2}


def test_keyset_pages_give_every_row_once_in_order(client_for, carol, organisation):
    expected = [(r["username"], r["access_group"], r["account_id"]) for r in who_has_access()]
    assert len(expected) == organisation["rows"]
    client = client_for(carol)
    pages = [client.get(reverse(REPORT))]
    while pages[-1].context["next_url"]:
        pages.append(client.get(pages[-1].context["next_url"]))
    assert len(pages) == 4
    assert [row for page in pages for row in _page_rows(page)] == expected
    # And back: Previous from each page gives the page before it, the same rows.
    page = pages[-1]
    for before in reversed(pages[:-1]):
        page = client.get(page.context["previous_url"])
        assert _page_rows(page) == _page_rows(before)
    assert page.context["previous_url"] is None


def test_keyset_pages_under_a_filter(client_for, carol, organisation):
    group = organisation["groups"][1]
    expected = [
        (r["username"], r["access_group"], r["account_id"])
        for r in who_has_access(access_group=group)
    ]
    client = client_for(carol)
    # By name (the datalist's value) or by id (the links the pages make): the same rows.
    for value in (group.name, str(group.pk)):
        page = client.get(reverse(REPORT), {"access_group": value})
        shown = _page_rows(page)
        while page.context["next_url"]:
            page = client.get(page.context["next_url"])
            shown += _page_rows(page)
        assert shown == expected
    assert client.get(reverse(REPORT), {"access_group": "nope"}).status_code == 400


def test_filter_choices_are_a_datalist_not_a_select(client_for, carol, organisation):
    page = client_for(carol).get(reverse(REPORT)).content.decode()
    assert "<select" not in page.split('aria-label="Filter who has access"')[1].split("</form>")[0]
    assert 'list="filter-access-groups"' in page and '<datalist id="filter-access-groups">' in page
    assert '<option value="g0">' in page
    assert f'<option value="{organisation["accounts"][0].account_id}">' in page


def test_a_bad_page_key_starts_at_the_first_page(client_for, carol, organisation):
    client = client_for(carol)
    first = _page_rows(client.get(reverse(REPORT)))
    for token in ("x", "W10=", "WyJhIiwiYiIsImMiLCJkIl0="):  # not base64 JSON, [], ["a","b","c","d"]
        response = client.get(reverse(REPORT), {"after": token})
        assert response.status_code == 200
        assert _page_rows(response) == first


@pytest.mark.parametrize(
    "url, query",
    [
        ("web:who-has-access", {}),
        ("web:who-has-access", {"user": "u07"}),
        ("web:access-matrix", {}),
        ("web:access-matrix", {"rows": "access_groups"}),
        ("web:approvals", {}),
    ],
)
def test_report_pages_stay_within_twelve_queries(
    client_for, carol, bob, organisation, django_assert_max_num_queries, url, query
):
    # bob approves (his decision history is on /approvals/) and audits (the reports).
    bob.is_auditor = True
    bob.save(update_fields=["is_auditor"])
    AccessGroup.objects.get(name="g0").approvers.add(bob)
    client = client_for(bob)
    client.get(reverse(url), query)  # the session and the caches, once
    with django_assert_max_num_queries(12):
        response = client.get(reverse(url), query)
    assert response.status_code == 200
    if url == REPORT and not query:
        with django_assert_max_num_queries(12):
            assert client.get(response.context["next_url"]).status_code == 200


def test_approval_queue_costs_the_same_for_groups_without_policies(
    client_for, bob, organisation
):
    """An empty list of policies, prefetched, is an answer: no query per card. The page
    costs the same with one card as with eight."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    groups = list(AccessGroup.objects.filter(name__in=["g0", "g1"]))
    for group in groups:
        group.approvers.add(bob)
    askers = User.objects.bulk_create(
        User(username=f"asker{n}", email=f"asker{n}@example.com", password="!") for n in range(8)
    )
    client = client_for(bob)

    def queries_with(cards: int) -> int:
        sent = AccessRequest.objects.filter(requester__in=askers).count()
        AccessRequest.objects.bulk_create(
            AccessRequest(requester=u, access_group=groups[n % 2], justification="on call")
            for n, u in enumerate(askers[sent:cards], start=sent)
        )
        client.get(reverse("web:approvals"))
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("web:approvals"))
        assert response.status_code == 200
        assert response.content.decode().count("/approve/") >= cards
        return len(captured.captured_queries)

    assert queries_with(1) == queries_with(8)
