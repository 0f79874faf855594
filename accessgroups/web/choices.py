"""The filters' choices (the catalogue's account select, the reports' datalists of accounts
and access groups), written once per process for each state of what they list.

Every account and every access group is a choice: 500 accounts cost a catalogue view a tenth
of its time, read from the database and written out as options, and 1,000 group names a
report view about as much. The options are kept in process memory under a stamp of the rows
they list, read in one small query per view: their number and their last change
(``updated_at``, which every save sets: the Organizations sync, the admin pages). Archiving
a group takes it out of the live ones (their number), though without a save. An account
added, renamed, moved or removed, and a group added or archived, shows at once.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from django.db import connection
from django.utils.safestring import SafeString, mark_safe

from accessgroups.models import AccessGroup, Account
from accessgroups.web.common import options_html, values_html

_kept: dict[str, tuple[tuple, SafeString]] = {}


def _kept_under(name: str, stamp_sql: str, write: Callable[[], SafeString]) -> SafeString:
    with connection.cursor() as cursor:
        cursor.execute(stamp_sql)
        stamp = (connection.alias, *cursor.fetchone())
    kept = _kept.get(name)
    if kept is None or kept[0] != stamp:
        # Written after the stamp is read: what is kept is never older than its stamp.
        kept = (stamp, write())
        _kept[name] = kept
    return kept[1]


def account_options(selected: str | None = None) -> SafeString:
    """``<option>`` elements of every account (value: the account id; label:
    ``Account.label_of``), by name, ``selected`` marked."""

    def write() -> SafeString:
        accounts = Account.objects.values_list("account_id", "name", "ou_path").order_by(
            "name", "account_id"
        )
        return options_html((a[0], Account.label_of(*a)) for a in accounts)

    table = Account._meta.db_table
    options = _kept_under("accounts", f"SELECT COUNT(*), MAX(updated_at) FROM {table}", write)
    if not selected:
        return options
    plain = f'<option value="{escape(selected)}">'
    return mark_safe(options.replace(plain, f"{plain[:-1]} selected>", 1))


def group_names() -> SafeString:
    """``<option>`` elements of every live access group's name, by name (a datalist)."""

    def write() -> SafeString:
        names = AccessGroup.objects.live().order_by("name", "id").values_list("name", flat=True)
        return values_html(names)

    table = AccessGroup._meta.db_table
    stamp = f"SELECT COUNT(*), MAX(updated_at) FROM {table} WHERE archived_at IS NULL"
    return _kept_under("groups", stamp, write)


def forget() -> None:
    """Drops what is kept (tests that count a page's queries on its cold path)."""
    _kept.clear()
