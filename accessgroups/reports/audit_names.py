"""The audit log's objects by name: "alice", "Developers", "sandbox (111111111111)".

An event stores its object as a type and an id; a page of events names them with one query
per object type on the page (never one per row). An object that no longer resolves keeps
its type and id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    AccessRequest,
    AccessReview,
    Account,
    ApiToken,
    AuditEvent,
    ChangeRequest,
    Decision,
    DriftFinding,
    DriftScan,
    Membership,
    ReviewItem,
    User,
)


@dataclass(frozen=True)
class Kind:
    model: type[models.Model]
    label: str  # the type in words
    related: tuple[str, ...]
    name: Callable[[Any], str]


KINDS: dict[str, Kind] = {
    "user": Kind(User, "User", (), lambda u: u.username),
    "accessgroup": Kind(AccessGroup, "Access group", (), lambda g: g.name),
    "account": Kind(Account, "Account", (), lambda a: a.label),
    "accessrequest": Kind(
        AccessRequest,
        "Access request",
        ("requester", "access_group"),
        lambda r: f"#{r.pk}: {r.requester.username} for {r.access_group.name}",
    ),
    "membership": Kind(
        Membership,
        "Membership",
        ("user", "access_group"),
        lambda m: f"{m.user.username} in {m.access_group.name}",
    ),
    "accessgroupaccount": Kind(
        AccessGroupAccount,
        "Account of a group",
        ("access_group", "account"),
        lambda link: f"{link.access_group.name} → {link.account.label}",
    ),
    "accessgrouppolicy": Kind(
        AccessGroupPolicy,
        "Policy of a group",
        ("access_group",),
        lambda p: f"{p.access_group.name}: {p.label}",
    ),
    "decision": Kind(
        Decision,
        "Decision",
        ("requester", "request__access_group"),
        lambda d: (
            f"{d.get_outcome_display()} of {d.requester.username} for {d.request.access_group.name}"
        ),
    ),
    "accessreview": Kind(AccessReview, "Access review", ("access_group", "account"), str),
    "reviewitem": Kind(
        ReviewItem,
        "Review item",
        ("membership__user", "membership__access_group"),
        lambda i: (
            f"{i.membership.user.username} in {i.membership.access_group.name} "
            f"(review #{i.review_id})"
        ),
    ),
    "apitoken": Kind(ApiToken, "API token", ("user",), str),
    "driftfinding": Kind(DriftFinding, "Drift finding", ("access_group",), str),
    "driftscan": Kind(DriftScan, "Drift scan", (), str),
    "changerequest": Kind(ChangeRequest, "Change request", ("access_group",), str),
}


# Suggestions for the page's action filter (not a whole list: Identity Center calls are
# "identity_center.<Operation>", ended memberships "membership.<reason>").
COMMON_ACTIONS = (
    "request.created",
    "request.approved",
    "request.rejected",
    "request.cancelled",
    "membership.activated",
    "membership.revoked",
    "membership.expired",
    "access_group.created",
    "access_group.updated",
    "access_group.archived",
    "change_request.proposed",
    "change_request.approved",
    "change_request.rejected",
    "change_request.withdrawn",
    "change_request.superseded",
    "account.created",
    "account.updated",
    "user.onboarded",
    "user.deactivated",
    "review.opened",
    "review.item_keep",
    "review.item_revoke",
    "review.closed",
    "api_token.created",
    "api_token.revoked",
    "drift.detected",
    "drift.resolved",
)


def kind_label(object_type: str) -> str:
    kind = KINDS.get(object_type)
    if kind is not None:
        return kind.label
    model = _models_by_type().get(object_type)
    return str(model._meta.verbose_name).capitalize() if model else object_type


def _models_by_type() -> dict[str, type[models.Model]]:
    return {m._meta.model_name: m for m in apps.get_app_config("accessgroups").get_models()}


def object_type_choices() -> list[tuple[str, str]]:
    """Every type an event may name (those named by KINDS first), for the page's filter."""
    others = sorted(set(_models_by_type()) - KINDS.keys())
    return [(name, kind.label) for name, kind in KINDS.items()] + [
        (name, kind_label(name)) for name in others
    ]


def object_names(events: Iterable[AuditEvent]) -> dict[tuple[str, str], str]:
    """{(object_type, object_id): name} for the objects of ``events``, one query per type."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.object_type in KINDS and event.object_id.isdigit():
            wanted[event.object_type].add(int(event.object_id))
    names: dict[tuple[str, str], str] = {}
    for object_type, ids in wanted.items():
        kind = KINDS[object_type]
        rows = kind.model._default_manager.filter(pk__in=ids)
        if kind.related:
            rows = rows.select_related(*kind.related)
        for row in rows:
            names[(object_type, str(row.pk))] = kind.name(row)
    return names
