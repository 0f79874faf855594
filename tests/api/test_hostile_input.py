"""Input no client should send still gets a 400 naming what was wrong, never a 500.

PostgreSQL refuses NUL characters and integers past its column types; the API refuses them
first, so the answer names the field and the database is never asked.
"""

import pytest

from tests.api.helpers import assert_bad_input, database_fingerprint


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/audit-events/?actor=a%00", "actor"),
        ("/api/v1/audit-events/?action=a%00", "action"),
        ("/api/v1/audit-events/?object_id=%00", "object_id"),
        ("/api/v1/access-requests/?requester=a%00", "requester"),
        ("/api/v1/memberships/?user=a%00", "user"),
        ("/api/v1/reports/who-has-access/?user=a%00", "user"),
        ("/api/v1/reports/who-has-access/?account=1%00", "account"),
        ("/api/v1/memberships/?access_group=99999999999999999999999", "access_group"),
    ],
)
def test_hostile_query_parameters(api, dave, url, field):
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.get(url), field, before)


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/memberships/", {"user": "a\x00", "justification": "x"}, "user"),
        ("/api/v1/memberships/", {"user": "alice", "justification": "x\x00"}, "justification"),
        ("/api/v1/access-requests/", {"justification": "x\x00"}, "justification"),
        (
            "/api/v1/access-requests/",
            {"justification": "x", "duration_hours": 2**63},
            "duration_hours",
        ),
        ("/api/v1/accounts/", {"account_id": "123456789012", "name": "a\x00"}, "name"),
        ("/api/v1/access-groups/", {"name": "G", "description": "\x00"}, "description"),
        ("/api/v1/access-groups/", {"name": "G", "approvers": ["\x00"]}, "approvers"),
    ],
)
def test_hostile_bodies(api, dave, alice, readonly, url, body, field):
    body = {"access_group": readonly.pk, **body}
    client = api(dave)
    before = database_fingerprint()
    assert_bad_input(client.post(url, body, format="json"), field, before)
