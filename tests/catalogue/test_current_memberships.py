"""What each request's requester holds in its group, read for a page at once with SQL built
once per process for each length of its lists (``current_memberships``)."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from accessgroups.catalogue.grants import current_memberships
from accessgroups.core import compiled
from accessgroups.models import AccessRequest, Membership, MembershipSource, User

pytestmark = pytest.mark.django_db


def test_any_page_finds_what_the_orm_finds_in_a_few_shapes_of_sql(make_group):
    compiled.forget()
    people = User.objects.bulk_create(
        User(username=f"p{n}", email=f"p{n}@example.com") for n in range(25)
    )
    groups = [make_group(f"G{n}") for n in range(12)]
    now = timezone.now()
    chance = random.Random(13)
    Membership.objects.bulk_create(
        Membership(
            user=person,
            access_group=group,
            source=MembershipSource.ADMIN,
            granted_at=now,
            # Some held no more: not current.
            ended_at=now if chance.random() < 0.3 else None,
        )
        for person in people
        for group in groups
        if chance.random() < 0.5
    )
    for size in (1, 2, 4, 5, 6, 9, 10, 11, 19, 20, 21, 25):
        page = [
            AccessRequest(requester=chance.choice(people), access_group=chance.choice(groups))
            for _ in range(size)
        ]
        expected = {
            (m.user_id, m.access_group_id): m.pk
            for m in Membership.objects.active().filter(
                user_id__in={r.requester_id for r in page},
                access_group_id__in={r.access_group_id for r in page},
            )
        }
        found = current_memberships(page)
        assert {pair: m.pk for pair, m in found.items()} == expected, size
        assert all(isinstance(m, Membership) and m.ended_at is None for m in found.values())
    # Lists of 5, 10, 20 or 40 ids: at most four lengths each for 25 people and 12 groups.
    shapes = {key for key, _using in compiled._compiled if key[0] == "current memberships"}
    assert len(shapes) <= 16
    assert current_memberships([]) == {}
