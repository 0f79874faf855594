"""The account filters' choices (the catalogue's select, the reports' datalist), written once
per process for each state of the accounts.

Every account is a choice: 500 of them cost a catalogue view a tenth of its time, read from
the database and written out as options. The options are kept in process memory under the
accounts' number and their last change (``updated_at``, which every save sets: the
Organizations sync, the admin pages), read in one small query per view; an account added,
renamed, moved or removed shows at once.
"""

from __future__ import annotations

from html import escape

from django.db import connection
from django.utils.safestring import SafeString, mark_safe

from accessgroups.models import Account
from accessgroups.web.common import options_html

_kept: dict[str, tuple[tuple, SafeString]] = {}


def _accounts_stamp() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MAX(updated_at) FROM {Account._meta.db_table}")
        return (connection.alias, *cursor.fetchone())


def account_options(selected: str | None = None) -> SafeString:
    """``<option>`` elements of every account (value: the account id; label:
    ``Account.label_of``), by name, ``selected`` marked."""
    stamp = _accounts_stamp()
    kept = _kept.get("accounts")
    if kept is None or kept[0] != stamp:
        accounts = Account.objects.values_list("account_id", "name", "ou_path").order_by(
            "name", "account_id"
        )
        # Read after the stamp: what is kept is never older than the stamp it is kept under.
        kept = (stamp, options_html((a[0], Account.label_of(*a)) for a in accounts))
        _kept["accounts"] = kept
    if not selected:
        return kept[1]
    plain = f'<option value="{escape(selected)}">'
    return mark_safe(kept[1].replace(plain, f"{plain[:-1]} selected>", 1))


def forget() -> None:
    """Drops what is kept (tests that count a page's queries on its cold path)."""
    _kept.clear()
