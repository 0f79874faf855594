"""Identity Center groups as cached rows: what a refresh would have stored.

``ic_group("Platform-Leads", members=[bob])`` is a group whose members (by their Identity
Center user ids) were read; ``linked(user)`` gives a portal user the Identity Center id that
onboarding or the external identity source would have stored.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def linked(db):
    def link(user, ic_user_id: str | None = None):
        user.identity_center_user_id = ic_user_id or f"ic-{user.username}-{uuid.uuid4().hex[:6]}"
        user.save(update_fields=["identity_center_user_id"])
        return user

    return link


@pytest.fixture
def ic_group(db):
    from django.utils import timezone

    from accessgroups.models import IdentityCenterGroup, IdentityCenterGroupMember

    def make(name: str, *, members=(), member_ids=()):
        group = IdentityCenterGroup.objects.create(
            group_id=f"g-{uuid.uuid4().hex[:12]}", display_name=name
        )
        ids = [m.identity_center_user_id for m in members] + list(member_ids)
        IdentityCenterGroupMember.objects.bulk_create(
            IdentityCenterGroupMember(group=group, user_id=i) for i in ids
        )
        group.member_count, group.members_synced_at = len(ids), timezone.now()
        group.save()
        return group

    return make
