"""What the catalogue's cards show of an access group, written once and kept a minute.

A card's grants (accounts, policies, session and maximum durations, approvers) are the same
for everyone who reads the catalogue, and they cost most of the page: the account links and
policies of 24 groups, read and written out as HTML. They are kept in the shared cache under
the group's ``version`` (which grows with every change to its accounts, policies, session
duration or approvers) and the moment of its last change, so a change to the group shows at
once; a name changed elsewhere (an account renamed in AWS Organizations, an approver's
username, an Identity Center group's name) shows within ``CARD_SECONDS``. What depends on the
reader (what they hold, what they have asked for) is never kept: the page adds it.

A group whose card is not kept is read with its links and policies in one query each for all
such groups on the page, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.cache import cache
from django.db.models import prefetch_related_objects
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from accessgroups.catalogue.selectors import card_prefetches
from accessgroups.models import AccessGroup

CARD_SECONDS = 60
GRANTS_TEMPLATE = "accessgroups/requests/_group_grants.html"


def _key(group: AccessGroup) -> str:
    return f"catalogue-card:{group.pk}:{group.version}:{group.updated_at.timestamp():.6f}"


def kept_or_written(
    items: Sequence[Any],
    key_of: Callable[[Any], str],
    write: Callable[[list[Any]], list[Any]],
    seconds: int = CARD_SECONDS,
) -> list[Any]:
    """What is kept for each of ``items``, in their order: read from the shared cache in one
    call; for the items not kept, ``write(missing)`` (a value each, in their order), kept
    for ``seconds``."""
    keys = [key_of(item) for item in items]
    kept = cache.get_many(keys)
    missing = [(item, key) for item, key in zip(items, keys) if key not in kept]
    if missing:
        written = dict(zip([key for _, key in missing], write([item for item, _ in missing])))
        cache.set_many(written, seconds)
        kept.update(written)
    return [kept[key] for key in keys]


def _write_cards(groups: list[AccessGroup]) -> list[str]:
    prefetch_related_objects(groups, *card_prefetches())
    return [
        render_to_string(GRANTS_TEMPLATE, {"group": group, "show_policies": True})
        for group in groups
    ]


def attach_cards(groups: Sequence[AccessGroup]) -> None:
    """Set ``group.card_grants`` (HTML) on each group, from the cache or written now."""
    for group, html in zip(groups, kept_or_written(groups, _key, _write_cards)):
        # Written by the template above, escaped there; the cache hands back a plain str.
        group.card_grants = mark_safe(html)
