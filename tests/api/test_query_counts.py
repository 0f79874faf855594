"""Lists cost a fixed number of queries, however many rows they show (no query per row)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_activated,
    membership_grant,
)
from accessgroups.core.audit import audit_record
from accessgroups.models import (
    AccessGroupAccount,
    AccessGroupPolicy,
    DriftFinding,
    DriftKind,
    Membership,
    OrganizationalUnit,
    PolicyKind,
    ProvisioningStatus,
)

INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
}


@pytest.fixture
def builders(
    make_user, make_account, make_group, bob, erin, dave, readonly, ic_group, linked
) -> dict[str, Callable[[int], None]]:
    serial = count()
    accounts = [make_account("a"), make_account("b")]
    linked(bob)  # a member of every group's approver group
    AccessGroupAccount.objects.filter(access_group=readonly).update(
        provisioning_status=ProvisioningStatus.IN_SYNC
    )

    def users(n: int) -> None:
        for _ in range(n):
            make_user(f"user{next(serial)}", is_auditor=True)

    root = OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root")

    def accounts_(n: int) -> None:
        for _ in range(n):
            make_account(parent_ou=root, ou_path="Root")

    def units(n: int) -> None:
        for _ in range(n):
            i = next(serial)
            unit = OrganizationalUnit.objects.create(
                ou_id=f"ou-ab12-{i:08d}", name=f"U{i}", parent=root, path=f"Root/U{i}"
            )
            make_account(parent_ou=unit, ou_path=unit.path)

    def groups(n: int) -> None:
        for _ in range(n):
            group = make_group(
                f"G{next(serial)}",
                accounts=accounts,
                approvers=[bob, erin],
                policies=(
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws:iam::aws:policy/Billing",
                ),
            )
            AccessGroupPolicy.objects.create(
                access_group=group, kind=PolicyKind.INLINE, document=INLINE
            )
            AccessGroupPolicy.objects.create(
                access_group=group, kind=PolicyKind.CUSTOMER_MANAGED, name="p", path="/"
            )
            n = next(serial)
            group.approver_groups.set([ic_group(f"Leads{n}", members=[bob])])
            group.eligible_groups.set([ic_group(f"Team{n}"), ic_group(f"Other{n}")])

    def requests(n: int) -> None:
        for _ in range(n):
            request = access_request_create(
                requester=make_user(f"user{next(serial)}"), access_group=readonly, justification="x"
            )
            access_request_approve(access_request=request, approver=bob, comment="ok")

    def memberships(n: int) -> None:
        for _ in range(n):
            membership_grant(
                user=make_user(f"user{next(serial)}"),
                access_group=readonly,
                granted_by=dave,
                justification="x",
            )

    def access(n: int) -> None:
        # Half through requests (approver from the decision), half admin grants.
        for i in range(n):
            user = make_user(f"user{next(serial)}")
            if i % 2:
                request = access_request_create(
                    requester=user, access_group=readonly, justification="x"
                )
                membership_id = access_request_approve(
                    access_request=request, approver=bob
                ).membership_id
            else:
                membership_id = membership_grant(
                    user=user,
                    access_group=readonly,
                    granted_by=dave,
                    justification="x",
                    duration_hours=3,
                ).pk
            membership_activated(membership_id=membership_id)
            Membership.objects.filter(pk=membership_id).update(
                provisioning_status=ProvisioningStatus.IN_SYNC
            )

    def events(n: int) -> None:
        for _ in range(n):
            audit_record(
                action="test.event", actor=dave, subject=erin, access_group=readonly, data={"n": 1}
            )

    def findings(n: int) -> None:
        for _ in range(n):
            group = make_group(f"D{next(serial)}")
            DriftFinding.objects.create(
                kind=DriftKind.MISSING_ASSIGNMENT,
                access_group=group,
                principal=group.name,
                account_id=accounts[0].account_id,
                detail="missing",
            )

    return {
        "users": users,
        "accounts": accounts_,
        "units": units,
        "findings": findings,
        "groups": groups,
        "requests": requests,
        "memberships": memberships,
        "access": access,
        "events": events,
    }


@pytest.mark.parametrize(
    ("url", "builder"),
    [
        ("/api/v1/users/", "users"),
        ("/api/v1/accounts/", "accounts"),
        ("/api/v1/organizational-units/", "units"),
        ("/api/v1/access-groups/", "groups"),
        ("/api/v1/access-requests/", "requests"),
        ("/api/v1/memberships/", "memberships"),
        ("/api/v1/reports/who-has-access/?format=json", "access"),
        ("/api/v1/reports/who-has-access/?format=csv", "access"),
        ("/api/v1/audit-events/?format=json", "events"),
        ("/api/v1/audit-events/?format=csv", "events"),
        ("/api/v1/drift/", "findings"),
    ],
)
def test_queries_do_not_grow_with_rows(
    api, dave, builders, url, builder, django_assert_max_num_queries
):
    client = api(dave)

    def fetch() -> tuple[int, int]:
        """(queries, rows) for one full read of the URL."""
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
            if response.streaming:
                rows = b"".join(response.streaming_content).decode().count("\n") - 1
            else:
                rows = len(response.data["results"])
        assert response.status_code == 200
        return len(queries), rows

    builders[builder](5)
    few_queries, few_rows = fetch()
    builders[builder](45)
    with django_assert_max_num_queries(few_queries):
        many_queries, many_rows = fetch()
    assert many_rows >= 50 > few_rows, (few_rows, many_rows)  # the second read really had more rows
    assert many_queries == few_queries


def _review_of(n: int, group, opener):
    """A review of ``group`` with n items, all for the group's approver."""
    from datetime import timedelta

    from django.utils import timezone

    from accessgroups.models import MembershipSource, User
    from accessgroups.reviews.services import access_review_open

    users = User.objects.bulk_create(
        User(username=f"{group.name}{i}", email=f"{group.name}{i}@example.com") for i in range(n)
    )
    Membership.objects.bulk_create(
        Membership(user=u, access_group=group, source=MembershipSource.ADMIN) for u in users
    )
    deadline = timezone.now() + timedelta(days=7)
    return access_review_open(opened_by=opener, access_group=group, deadline=deadline)


@pytest.mark.parametrize("who", ["bob", "carol"])  # a reviewer (own items), an auditor (all)
def test_review_reads_do_not_grow_with_rows(api, request, who, bob, carol, make_group, sandbox):
    def group(name: str):
        return make_group(name, accounts=[sandbox], approvers=[bob])

    small, large = _review_of(5, group("Small"), carol), _review_of(50, group("Large"), carol)
    client = api(request.getfixturevalue(who))

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
        assert response.status_code == 200, url
        return len(captured)

    urls = ["/api/v1/access-reviews/{}/", "/api/v1/access-reviews/{}/items/"]
    if who == "carol":
        urls.append("/api/v1/access-reviews/{}/export/")
    for url in urls:
        assert queries(url.format(small.pk)) == queries(url.format(large.pk)), url
    listing = queries("/api/v1/access-reviews/")
    for i in range(10):
        _review_of(3, group(f"More{i}"), carol)
    assert queries("/api/v1/access-reviews/") == listing
