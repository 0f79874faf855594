"""The who-has-access page's rows written as one string (accessgroups.web.report_table):
byte for byte what the template wrote, one cell at a time, before it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template import engines
from django.utils import timezone

from accessgroups.web.report_table import rows_html

# templates/accessgroups/reports/who_has_access.html's rows before rows_html (the loop's own
# line breaks aside).
ROWS_TEMPLATE = """{% for row in page.object_list %}    <tr class="report-row" data-username="{{ row.username }}" data-access-group="{{ row.access_group }}" data-account-id="{{ row.account_id }}">
      <td data-label="User">{{ row.username }}</td>
      <td data-label="Email">{{ row.email }}</td>
      <td data-label="Access group">{{ row.access_group }}</td>
      <td data-label="Account">{{ row.account_name }} ({{ row.account_id }}){% if row.account_ou_path %} <span class="muted">· {{ row.account_ou_path }}</span>{% endif %}</td>
      <td data-label="Source">{{ row.source }}</td>
      <td data-label="Granted">{{ row.granted_at|utc_time }}</td>
      <td data-label="Expires">{% if row.expires_at %}{{ row.expires_at|utc_time }}{% else %}never{% endif %}</td>
      <td data-label="Approved by">{{ row.approved_by|default:"" }}</td>
      {% if not at %}<td data-label="State" class="state-{{ row.state }}">{% if row.state == "removal_pending" %}<span class="status status-failed">Removal pending</span><br><span class="muted">ended {{ row.ended_at|utc_time }}{% if row.last_error %}: {{ row.last_error }}{% endif %}</span>{% else %}Active{% endif %}</td>{% endif %}
    </tr>
{% endfor %}"""


def _row(**changes):
    row = {
        "username": "alice",
        "email": "alice@example.com",
        "access_group": "ReadOnly",
        "account_name": "sandbox",
        "account_id": "100000000001",
        "account_ou_path": "Root/Dev",
        "source": "request",
        "granted_at": datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC),
        "expires_at": None,
        "approved_by": "bob",
        "state": "active",
        "ended_at": None,
        "last_error": "",
    }
    row.update(changes)
    return row


ROWS = [
    _row(),
    _row(account_ou_path="", approved_by=None, expires_at=datetime(2026, 3, 2, 0, 5, tzinfo=UTC)),
    _row(
        username='<b>"o\'hare"</b>',
        email="a&b@example.com",
        access_group="R&D <ops>",
        account_name="<script>x</script>",
        account_ou_path='Root/"Prod"',
        approved_by="<i>",
        source="admin & co",
    ),
    _row(state="removal_pending", ended_at=datetime(2026, 4, 1, 23, 59, 59, tzinfo=UTC)),
    _row(
        state="removal_pending",
        ended_at=datetime(2026, 4, 1, tzinfo=UTC),
        last_error="AccessDenied: <not allowed> & retrying",
    ),
]


@pytest.mark.parametrize("at", [None, datetime(2026, 5, 1, 12, 0, tzinfo=UTC)])
@pytest.mark.parametrize("count", [0, 1, len(ROWS)])
def test_rows_are_what_the_template_wrote(at, count):
    rows = ROWS[:count]
    template = engines["django"].from_string(ROWS_TEMPLATE)
    expected = template.render({"page": {"object_list": rows}, "at": at})
    assert rows_html(rows, at=at) == expected
    # Moments in the current time zone, as the template's filter converts them.
    with timezone.override("Asia/Kolkata"):
        elsewhere = template.render({"page": {"object_list": rows}, "at": at})
        assert rows_html(rows, at=at) == elsewhere
    assert elsewhere != expected or count == 0


def test_values_are_escaped():
    written = rows_html(ROWS)
    assert "<script>" not in written and "<b>" not in written and "<not allowed>" not in written
    assert "&lt;script&gt;x&lt;/script&gt;" in written and "R&amp;D &lt;ops&gt;" in written
