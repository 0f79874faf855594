"""The access matrix: people (or access groups) against accounts, for auditors and admins."""

from __future__ import annotations

import html
import itertools
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accessgroups.models import (
    AccessGroupAccount,
    Membership,
    MembershipSource,
    ProvisioningStatus,
    User,
)
from accessgroups.reports.matrix import MatrixRows, access_matrix
from accessgroups.reports.rows import AFTER, cursor_token
from accessgroups.reports.selectors import who_has_access
from accessgroups.web import choices

MATRIX = "web:access-matrix"


class _Table(HTMLParser):
    """The text of the first table's header and body cells, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self._cell: list[str] | None = None
        self._in_caption = False
        self._tables = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._tables += 1
        elif self._tables == 1 and tag == "tr":
            self.rows.append([])
        elif self._tables == 1 and tag in ("th", "td"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.caption += data


def _grid(response) -> dict[str, dict[str, str]]:
    """{row label: {column header: cell text}} of the page's table."""
    parser = _Table()
    parser.feed(response.content.decode())
    if not parser.rows:
        return {}
    header, *body = parser.rows
    return {row[0].split(" ")[0]: dict(zip(header[1:], row[1:], strict=True)) for row in body}


def _in_sync(group) -> None:
    AccessGroupAccount.objects.filter(access_group=group).update(
        provisioning_status=ProvisioningStatus.IN_SYNC
    )


def _grant(user, group, *, status=ProvisioningStatus.IN_SYNC, ended=False) -> Membership:
    now = timezone.now()
    return Membership.objects.create(
        user=user,
        access_group=group,
        source=MembershipSource.ADMIN,
        granted_at=now,
        activated_at=now,
        ended_at=now if ended else None,
        provisioning_status=status,
        # In sync means for its latest change: an ended row in sync is confirmed removed.
        synced_generation=1 if status == ProvisioningStatus.IN_SYNC else 0,
    )


@pytest.fixture
def world(make_group, make_account, sandbox, alice, bob, erin, dave):
    """alice reaches sandbox through ReadOnly and prod through ReadOnly and Deploy; erin
    reaches prod through Deploy; what is not confirmed in Identity Center is not access."""
    prod = make_account("prod")
    staging = make_account("staging")
    readonly = make_group("ReadOnly", accounts=[sandbox, prod], approvers=[bob])
    deploy = make_group("Deploy", accounts=[prod], approvers=[bob])
    _in_sync(readonly)
    _in_sync(deploy)
    # staging is being added to Deploy: not reachable yet.
    AccessGroupAccount.objects.create(access_group=deploy, account=staging)
    _grant(alice, readonly)
    _grant(alice, deploy)
    _grant(erin, deploy)
    _grant(bob, deploy, status=ProvisioningStatus.PROVISIONING)  # not access yet
    _grant(dave, readonly, ended=True)  # access that ended
    return {"readonly": readonly, "deploy": deploy, "prod": prod, "sandbox": sandbox}


def _col(account) -> str:
    return f"{account.name} {account.account_id}"


@pytest.mark.django_db
def test_cells_name_the_groups_that_grant_confirmed_access(client_for, carol, world):
    response = client_for(carol).get(reverse(MATRIX))
    assert response.status_code == 200
    prod, sandbox = _col(world["prod"]), _col(world["sandbox"])
    assert _grid(response) == {
        "alice": {prod: "✓ Deploy, ReadOnly", sandbox: "✓ ReadOnly"},
        "erin": {prod: "✓ Deploy", sandbox: "no access"},
    }
    content = response.content.decode()
    assert "<caption>" in content and 'scope="row"' in content and 'scope="col"' in content


@pytest.mark.django_db
def test_access_groups_against_accounts_count_the_people(client_for, carol, world):
    response = client_for(carol).get(reverse(MATRIX), {"rows": "access_groups"})
    assert response.status_code == 200
    prod, sandbox = _col(world["prod"]), _col(world["sandbox"])
    assert _grid(response) == {
        "Deploy": {prod: "✓ 2 people", sandbox: "no access"},
        "ReadOnly": {prod: "✓ 1 person", sandbox: "✓ 1 person"},
    }


@pytest.mark.django_db
def test_filters_narrow_rows_and_columns(client_for, carol, erin, world):
    client = client_for(carol)
    prod, sandbox = _col(world["prod"]), _col(world["sandbox"])
    by_account = _grid(client.get(reverse(MATRIX), {"account": world["sandbox"].account_id}))
    assert by_account == {"alice": {sandbox: "✓ ReadOnly"}}
    by_group = _grid(client.get(reverse(MATRIX), {"access_group": world["deploy"].pk}))
    assert by_group == {"alice": {prod: "✓ Deploy"}, "erin": {prod: "✓ Deploy"}}
    assert _grid(client.get(reverse(MATRIX), {"user": "erin"})) == {"erin": {prod: "✓ Deploy"}}


@pytest.mark.django_db
def test_bad_filters_are_shown_by_the_field_and_show_no_grid(client_for, carol, world):
    client = client_for(carol)
    response = client.get(reverse(MATRIX), {"user": "nobody"})
    assert response.status_code == 400
    assert response.context["form"].errors["user"] == ["No user 'nobody'."]
    assert _grid(response) == {}
    for bad in ({"rows": "accounts"}, {"access_group": "x"}, {"account": "1"}, {"user": "a\x00"}):
        assert client.get(reverse(MATRIX), bad).status_code == 400, bad
    # A numbered page from before keyset pages starts again at the first, filters kept; a
    # cursor that is not the matrix's (made up, or the report's) gives the first page.
    old = client.get(reverse(MATRIX), {"page": "999", "rows": "access_groups", "cpage": "2"})
    assert old.status_code == 302 and old["Location"] == f"{reverse(MATRIX)}?rows=access_groups"
    report_cursor = cursor_token(AFTER, ("alice", "ReadOnly", "100000000001", 1))
    for cursor in ("x", "", report_cursor, cursor_token(AFTER, ("a\x00", 1))):
        first = client.get(reverse(MATRIX), {"cursor": cursor})
        assert first.status_code == 200 and list(_grid(first)) == ["alice", "erin"]


@pytest.mark.django_db
def test_user_text_is_escaped(client_for, carol, make_user, world):
    mallory = make_user("mallory", display_name="<script>alert(1)</script>")
    _grant(mallory, world["deploy"])
    content = client_for(carol).get(reverse(MATRIX)).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["alice", "bob", "erin"])
def test_requesters_and_approvers_get_403(client_for, request, world, persona):
    assert client_for(request.getfixturevalue(persona)).get(reverse(MATRIX)).status_code == 403


@pytest.mark.django_db
def test_auditors_and_admins_may_read_and_signed_out_is_sent_to_sign_in(
    client, client_for, carol, dave, world
):
    assert client_for(carol).get(reverse(MATRIX)).status_code == 200
    assert client_for(dave).get(reverse(MATRIX)).status_code == 200
    response = client.get(reverse(MATRIX))
    assert response.status_code == 302 and "login" in response["Location"]
    assert client_for(carol).post(reverse(MATRIX)).status_code == 405


def _people_in(group, n: int, prefix: str) -> None:
    users = User.objects.bulk_create(
        User(username=f"{prefix}{i:03d}", email=f"{prefix}{i:03d}@example.com") for i in range(n)
    )
    now = timezone.now()
    Membership.objects.bulk_create(
        Membership(
            user=u,
            access_group=group,
            source=MembershipSource.ADMIN,
            granted_at=now,
            activated_at=now,
            provisioning_status=ProvisioningStatus.IN_SYNC,
        )
        for u in users
    )


def _queries(client, query: dict) -> int:
    choices.forget()  # the account filter's options are read on every count
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(MATRIX), query)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("rows", ["users", "access_groups"])
@pytest.mark.parametrize("by_account", [False, True])
def test_queries_do_not_grow_with_rows(
    client_for, carol, make_group, make_account, rows, by_account
):
    accounts = [make_account() for _ in range(4)]
    groups = [make_group(f"G{i}", accounts=accounts[i:]) for i in range(3)]
    for group in groups:
        _in_sync(group)
    client = client_for(carol)
    query = {"rows": rows}
    if by_account:
        query["account"] = accounts[2].account_id  # reached through every group
    _people_in(groups[0], 5, "few")
    few = _queries(client, query)
    for i, group in enumerate(groups):
        _people_in(group, 100, f"many{i}-")
    assert _queries(client, query) == few
    # A later page, with rows before and after it.
    late = cursor_token(AFTER, ("many1-050", 0) if rows == "users" else ("G0", 2**31))
    assert _queries(client, {**query, "cursor": late, "cpage": "2"}) == few


@pytest.mark.django_db
def test_paginated_by_fifty_rows(client_for, carol, make_group, sandbox):
    group = make_group("Wide", accounts=[sandbox])
    _in_sync(group)
    _people_in(group, 60, "p")
    client = client_for(carol)
    first = client.get(reverse(MATRIX), {"rows": "users"})
    assert list(_grid(first)) == [f"p{i:03d}" for i in range(50)]
    assert 'rel="prev"' not in first.content.decode()
    second = client.get(_link(first, "next"))
    assert list(_grid(second)) == [f"p{i:03d}" for i in range(50, 60)]
    assert 'rel="next"' not in second.content.decode()
    assert "10 people from p050" in second.content.decode()
    back = client.get(_link(second, "prev"))
    assert list(_grid(back)) == [f"p{i:03d}" for i in range(50)]
    assert 'rel="next"' in back.content.decode() and 'rel="prev"' not in back.content.decode()
    # The filters go along: the next page is of the same rows.
    assert "rows=users" in _link(first, "next")


def _link(response, rel: str) -> str:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', response.content.decode())
    assert found, rel
    return html.unescape(found.group(1))


@pytest.mark.django_db
def test_account_columns_are_paginated_by_twenty(
    client_for, carol, alice, make_group, make_account
):
    accounts = [make_account(f"acct-{i:02d}") for i in range(25)]
    group = make_group("Wide", accounts=accounts)
    _in_sync(group)
    _grant(alice, group)
    client = client_for(carol)
    first = client.get(reverse(MATRIX))
    assert list(_grid(first)["alice"]) == [_col(a) for a in accounts[:20]]
    assert "Accounts 1–20 of 25" in first.content.decode()
    assert "Next accounts" in first.content.decode()
    second = _grid(client.get(reverse(MATRIX), {"cpage": "2"}))
    assert second == {"alice": {_col(a): "✓ Wide" for a in accounts[20:]}}


@pytest.mark.django_db(transaction=True)
def test_carol_opens_the_matrix_in_a_browser(page, login, carol, world):
    login(page, carol)
    page.goto(reverse(MATRIX))
    expect(page.get_by_role("heading", name="Access matrix")).to_be_visible()
    table = page.get_by_role("table", name="People against accounts")
    expect(table).to_be_visible()
    alice_row = table.get_by_role("row", name="alice")
    expect(alice_row.get_by_role("cell", name="Deploy, ReadOnly")).to_be_visible()
    page.get_by_label("Rows").select_option(label="Access groups")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("table", name="Access groups against accounts")).to_be_visible()
    expect(page.get_by_role("row", name="Deploy")).to_contain_text("2 people")


@pytest.fixture
def tangle(make_group, make_account, make_user):
    """Access in every state that is, or is not yet or no longer, access."""
    a1, a2, a3 = (make_account(f"acct-{n}") for n in (1, 2, 3))
    g1 = make_group("G1", accounts=[a1, a2])
    g2 = make_group("G2", accounts=[a2])
    archived = make_group("Archived", accounts=[a1])
    unlinked = make_group("Unlinked", accounts=[a3])  # its only link is not in sync
    empty = make_group("Empty", accounts=[a3])  # nobody in it
    for group in (g1, g2, archived, empty):
        _in_sync(group)
    now = timezone.now()
    # a3 is being added to G1; a1 was taken from G2 (the removal is done, so in sync).
    AccessGroupAccount.objects.create(access_group=g1, account=a3)
    AccessGroupAccount.objects.create(
        access_group=g2,
        account=a1,
        valid_from=now,
        valid_to=now,
        provisioning_status=ProvisioningStatus.IN_SYNC,
    )
    AccessGroupAccount.objects.create(
        access_group=g2, account=a3, provisioning_status=ProvisioningStatus.FAILED
    )
    archived.archived_at = now
    archived.save(update_fields=["archived_at"])
    u1, u2, u3, u4, u5 = (make_user(f"u{n}") for n in range(1, 6))
    _grant(u1, g1)
    _grant(u1, g2)  # a2 through both groups
    _grant(u2, g1, status=ProvisioningStatus.PROVISIONING)
    _grant(u2, g2, status=ProvisioningStatus.FAILED)
    _grant(u3, g2, ended=True)
    _grant(u3, archived)
    _grant(u4, unlinked)
    _grant(u4, g2)
    _grant(u5, g1, ended=True)
    _grant(u5, g1)  # granted again after it ended: one person, not two
    u6 = make_user("u6")
    _grant(u6, g2, status=ProvisioningStatus.PENDING, ended=True)  # removal not confirmed yet
    return {
        "accounts": [a1, a2, a3],
        "groups": [g1, g2, archived, unlinked, empty],
        "users": [u1, u2, u3, u4, u5, u6],
    }


def _whole_matrix(rows_kind, **filters):
    """Every page of the matrix: {(row label, account id): cell}, and the row labels in order."""
    cells, labels, after = {}, [], None
    while True:
        matrix = access_matrix(
            rows_kind=rows_kind, after=after, per_page=2, columns_per_page=100, **filters
        )
        for row in matrix.rows:
            labels.append(row.label)
            for column, cell in zip(matrix.columns, row.cells, strict=True):
                if cell:
                    cells[(row.label, column.account_id)] = cell
        if not matrix.page.has_next:
            assert len(labels) == len(set(labels)) and labels == sorted(labels)
            return cells, labels
        after = matrix.page.last_key


@pytest.mark.django_db
def test_cells_agree_with_the_who_has_access_report(tangle):
    """Under every filter, the matrix shows exactly the report's rows, and nothing else."""
    seen = set()
    for account, group, user in itertools.product(
        [None, *tangle["accounts"]], [None, *tangle["groups"]], [None, *tangle["users"]]
    ):
        filters = {"account": account, "access_group": group, "user": user}
        report = list(who_has_access(**filters))
        seen.update((r["username"], r["access_group"], r["account_id"]) for r in report)

        groups_of: dict[tuple[str, str], list[str]] = {}
        for r in report:
            groups_of.setdefault((r["username"], r["account_id"]), []).append(r["access_group"])
        by_user, users = _whole_matrix(MatrixRows.USERS, **filters)
        assert by_user == {key: sorted(names) for key, names in groups_of.items()}, filters
        assert users == sorted({r["username"] for r in report}), filters

        people: dict[tuple[str, str], set[str]] = {}
        for r in report:
            people.setdefault((r["access_group"], r["account_id"]), set()).add(r["username"])
        by_group, groups = _whole_matrix(MatrixRows.ACCESS_GROUPS, **filters)
        assert by_group == {key: len(names) for key, names in people.items()}, filters
        assert groups == sorted({r["access_group"] for r in report}), filters
    # The state really held access: confirmed, or ended but not confirmed removed (u6).
    a1, a2, _ = (a.account_id for a in tangle["accounts"])
    assert seen == {
        ("u6", "G2", a2),
        ("u1", "G1", a1),
        ("u1", "G1", a2),
        ("u1", "G2", a2),
        ("u4", "G2", a2),
        ("u5", "G1", a1),
        ("u5", "G1", a2),
    }


# The cells as the template wrote them one by one, before accessgroups.web.matrix.cells_html.
_CELLS_TEMPLATE = (
    "{% for cell in cells %}{% if users %}"
    '<td>{% if cell %}<span aria-hidden="true">✓ </span>{{ cell|join:", " }}'
    '{% else %}<span class="muted">no access</span>{% endif %}</td>'
    "{% else %}"
    '<td>{% if cell %}<span aria-hidden="true">✓ </span>{{ cell }} '
    '{{ cell|pluralize:"person,people" }}{% else %}<span class="muted">no access</span>'
    "{% endif %}</td>{% endif %}{% endfor %}"
)


@pytest.mark.parametrize(
    "rows_kind, cells",
    [
        ("users", [["ReadOnly"], [], ["<b>x</b>", 'R&D\'s "ops"'], ["Deploy", "ReadOnly"]]),
        ("access_groups", [1, None, 2, 0, 1000]),
    ],
)
def test_cells_are_written_as_the_template_wrote_them(rows_kind, cells):
    from django.template import Context, Template

    from accessgroups.reports.matrix import MatrixRows
    from accessgroups.web.matrix import cells_html

    kind = MatrixRows(rows_kind)
    expected = Template(_CELLS_TEMPLATE).render(
        Context({"cells": cells, "users": kind is MatrixRows.USERS})
    )
    assert cells_html(kind, cells) == expected
    assert "<b>" not in cells_html(kind, cells)
