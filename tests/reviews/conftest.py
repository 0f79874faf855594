"""Fixtures for access reviews: active memberships made as rows, and a review opener."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accessgroups.models import Membership, MembershipSource


@pytest.fixture
def grant(db):
    """grant(user, group) -> an active membership, as if provisioned already."""

    def make(user, group, **fields) -> Membership:
        now = timezone.now()
        fields.setdefault("granted_at", now - timedelta(days=1))
        fields.setdefault("activated_at", now - timedelta(days=1))
        return Membership.objects.create(
            user=user, access_group=group, source=MembershipSource.ADMIN, **fields
        )

    return make


@pytest.fixture
def in_a_week():
    return timezone.now() + timedelta(days=7)
