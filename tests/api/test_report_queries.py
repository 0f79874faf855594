"""The report files cost the same number of queries however many rows they hold."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from accessgroups.core.audit import audit_record
from accessgroups.models import AccessGroupAccount, Membership, ProvisioningStatus

URL = "/api/v1/reports/who-has-access/"


@pytest.fixture
def grow(make_user, make_group, make_account, dave):
    group = make_group("Ops", accounts=[make_account(), make_account()])
    AccessGroupAccount.objects.update(provisioning_status=ProvisioningStatus.IN_SYNC)
    made = iter(range(10_000))

    def more(n: int) -> None:
        for _ in range(n):
            user = make_user(f"user{next(made)}")
            Membership.objects.create(
                user=user,
                access_group=group,
                source="admin",
                granted_by=dave,
                activated_at=timezone.now(),
                provisioning_status=ProvisioningStatus.IN_SYNC,
            )
            audit_record(action="test.event", actor=dave, subject=user)

    return more


def _read(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
    if "format=xlsx" in url:
        rows = load_workbook(io.BytesIO(body)).active.max_row
    else:
        rows = body.count(b"\n")
    return len(queries), rows


@pytest.mark.parametrize(
    "url",
    [
        URL + "?format=jsonl",
        URL + "?format=xlsx",
        URL + "?format=csv&at=2999-01-01T00:00:00Z",
        "/api/v1/audit-events/?format=jsonl",
    ],
)
def test_queries_do_not_grow_with_rows(api, carol, grow, url):
    client = api(carol)
    grow(3)
    few_queries, few_rows = _read(client, url)
    grow(40)
    many_queries, many_rows = _read(client, url)
    assert many_rows >= few_rows + 40  # the second file really held more rows
    assert many_queries == few_queries
