"""The who-has-access page's table rows, written as one string.

A report page shows 50 rows of nine cells, each a value or two through the template engine:
some 700 nodes a page, most of its time. ``rows_html`` writes the same HTML directly, every
value escaped as the template escapes it, moments as ``{{ m|utc_time }}`` writes them;
tests/web/test_report_table.py holds it to the template it replaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from accessgroups.web.moments import utc_time


def _text(value: Any) -> str:
    return escape(str(value))


def _moment(value: Any) -> str:
    return utc_time(template_localtime(value))


def _state(row: dict[str, Any]) -> str:
    state = _text(row["state"])
    if row["state"] != "removal_pending":
        return f'<td data-label="State" class="state-{state}">Active</td>'
    error = f": {_text(row['last_error'])}" if row["last_error"] else ""
    return (
        f'<td data-label="State" class="state-{state}"><span class="status status-failed">'
        f'Removal pending</span><br><span class="muted">ended {_moment(row["ended_at"])}'
        f"{error}</span></td>"
    )


def rows_html(rows: Iterable[dict[str, Any]], *, at: Any = None) -> SafeString:
    """The ``<tr>`` of each report row (``accessgroups.reports.selectors.who_has_access``);
    with ``at`` (a moment in the past) there is no state column."""
    parts = []
    for row in rows:
        username, group = _text(row["username"]), _text(row["access_group"])
        account_id = _text(row["account_id"])
        ou_path = (
            f' <span class="muted">· {_text(row["account_ou_path"])}</span>'
            if row["account_ou_path"]
            else ""
        )
        expires = _moment(row["expires_at"]) if row["expires_at"] else "never"
        approved_by = _text(row["approved_by"]) if row["approved_by"] else ""
        parts.append(
            f'    <tr class="report-row" data-username="{username}" data-access-group="{group}"'
            f' data-account-id="{account_id}">\n'
            f'      <td data-label="User">{username}</td>\n'
            f'      <td data-label="Email">{_text(row["email"])}</td>\n'
            f'      <td data-label="Access group">{group}</td>\n'
            f'      <td data-label="Account">{_text(row["account_name"])} ({account_id}){ou_path}'
            "</td>\n"
            f'      <td data-label="Source">{_text(row["source"])}</td>\n'
            f'      <td data-label="Granted">{_moment(row["granted_at"])}</td>\n'
            f'      <td data-label="Expires">{expires}</td>\n'
            f'      <td data-label="Approved by">{approved_by}</td>\n'
            f"      {'' if at else _state(row)}\n"
            "    </tr>\n"
        )
    return mark_safe("".join(parts))
