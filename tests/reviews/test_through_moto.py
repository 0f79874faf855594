"""A review's revocations reach Identity Center by the same provisioning as any revocation:
tasks run eagerly on commit against moto in-process, for a reviewer's Revoke and for the
deadline's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accessgroups.models import AccessGroup, Membership
from accessgroups.reviews.services import (
    access_review_open,
    access_reviews_close_due,
    review_item_decide,
)

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "111111111111"


def _granted(requester, approver, group_id: int) -> int:
    asked = requester.post(
        "/api/v1/access-requests/",
        {"access_group": group_id, "justification": "on call"},
        format="json",
    )
    assert asked.status_code == 201, asked.data
    assert approver.post(f"/api/v1/access-requests/{asked.data['id']}/approve/").status_code == 202
    assert requester.get(f"/api/v1/access-requests/{asked.data['id']}/").data["status"] == "active"
    return asked.data["id"]


def test_reviewer_and_deadline_revocations_leave_identity_center(
    api,  # noqa: F811
    alice,
    bob,
    carol,
    dave,
    erin,
    identity_center,
    tasks_run_on_commit,
    in_a_week,
):
    admin = api(dave)
    assert (
        admin.post("/api/v1/accounts/", {"account_id": ACCOUNT, "name": "sandbox"}).status_code
        == 201
    )
    created = admin.post(
        "/api/v1/access-groups/",
        {
            "name": "ReadOnly",
            "accounts": [ACCOUNT],
            "aws_managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "approvers": ["bob"],
        },
        format="json",
    )
    assert created.status_code == 202, created.data
    for person in (alice, erin):
        _granted(api(person), api(bob), created.data["id"])
    assert sorted(identity_center.members("ReadOnly")) == ["alice", "erin"]

    review = access_review_open(
        opened_by=carol, access_group=AccessGroup.objects.get(name="ReadOnly"), deadline=in_a_week
    )
    alice_item = review.items.get(membership__user=alice)
    review_item_decide(item=alice_item, reviewer=bob, decision="revoke", comment="moved teams")
    assert identity_center.members("ReadOnly") == ["erin"]

    access_reviews_close_due(now=in_a_week + timedelta(seconds=1))
    assert identity_center.members("ReadOnly") == []
    assert set(Membership.objects.values_list("provisioning_status", flat=True)) == {"in_sync"}
