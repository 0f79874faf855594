"""What an approval card says of a request, written once and kept a minute.

A card in the approval queue shows the requester, the justification and everything approving
would grant: the group's accounts and policies, the duration, the start, what the requester
holds already, the quorum so far. That is most of the queue's cost, and an approver who works
through the queue reads the same cards again after each decision. The details are kept in
the shared cache under everything they show that can change while the request waits: the
group's ``version`` and last change, the approvals so far and the number required, and the
requester's current membership in the group. A change to any of them shows at once; a name
changed elsewhere (the requester's display name or email, an account's name) shows within
``accessgroups.web.cards.CARD_SECONDS``. The form under the card (the approver's comment,
its errors, the CSRF token) is never kept.

The accounts and policies of a group are read only for the cards not kept, in one query each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import prefetch_related_objects
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from accessgroups.catalogue.grants import INLINE_COLLAPSE_LINES, inline_policy_text, request_grants
from accessgroups.catalogue.selectors import (
    LABELS_ONLY,
    current_accounts_prefetch,
    current_policies_prefetch,
)
from accessgroups.models import AccessRequest, Membership
from accessgroups.web.cards import kept_or_written

DETAILS_TEMPLATE = "accessgroups/approvals/_card_details.html"


def _stamp(moment: datetime | None) -> str:
    return f"{moment.timestamp():.6f}" if moment is not None else "-"


def _key(item: AccessRequest, held: dict[tuple[int, int], Membership]) -> str:
    group = item.access_group
    holding = held.get((item.requester_id, item.access_group_id))
    holds = (
        "-"
        if holding is None
        else f"{holding.pk}.{_stamp(holding.expires_at)}.{holding.duration_hours}"
    )
    return (
        f"approval-card:{item.pk}:{group.version}:{_stamp(group.updated_at)}:"
        f"{item.approvals}.{item.approvals_required}:{item.membership_id}:{holds}"
    )


def attach_approval_cards(
    items: Sequence[AccessRequest], held: dict[tuple[int, int], Membership]
) -> None:
    """Set ``card_details`` (HTML) and ``card_risk`` on each queued request, from the cache
    or written now. ``items`` come with their requester, group and approvals so far;
    ``held`` is ``accessgroups.catalogue.grants.current_memberships`` of them."""

    def write(missing: list[AccessRequest]) -> list[tuple[str, str]]:
        prefetch_related_objects(
            missing,
            current_accounts_prefetch("access_group__", only=LABELS_ONLY),
            current_policies_prefetch("access_group__"),
        )
        written = []
        for item in missing:
            item.grants = request_grants(item, held)
            if item.grants["inline_policy"] is not None:
                item.inline_text = inline_policy_text(item.grants["inline_policy"])
                item.inline_long = item.inline_text.count("\n") >= INLINE_COLLAPSE_LINES
            written.append((item.grants["risk"], render_to_string(DETAILS_TEMPLATE, {"r": item})))
        return written

    for item, (risk, html) in zip(items, kept_or_written(items, lambda r: _key(r, held), write)):
        item.card_risk = risk
        # Written by the template above, escaped there; the cache hands back a plain str.
        item.card_details = mark_safe(html)
