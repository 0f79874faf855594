"""Reads of the group cache for the API and the pages: the groups, the last refresh."""

from __future__ import annotations

from django.db.models import QuerySet

from accessgroups.models import GroupSync, IdentityCenterGroup


def identity_center_groups() -> QuerySet[IdentityCenterGroup]:
    """Groups present in Identity Center at the last refresh, by name."""
    return IdentityCenterGroup.objects.present().order_by("display_name", "group_id")


def last_group_sync() -> GroupSync | None:
    return GroupSync.objects.order_by("-started_at", "-id").first()
