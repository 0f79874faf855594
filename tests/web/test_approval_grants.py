"""The approval card shows what approving grants, in full: accounts by name and id, each
managed policy with its risk, the inline policy as formatted JSON, durations in words, and
what the requester holds already; a high-risk group stands out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.access import services
from accessgroups.models import AccessGroupPolicy, PolicyKind

pytestmark = pytest.mark.django_db

LONG = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
        for i in range(5)
    ],
}


def test_card_shows_the_grants(client_for, alice, bob, make_group, sandbox):
    group = make_group(
        "Admins",
        accounts=[sandbox],
        approvers=[bob],
        policies=("arn:aws:iam::aws:policy/AdministratorAccess",),
        session_duration="PT4H",
    )
    AccessGroupPolicy.objects.create(access_group=group, kind=PolicyKind.INLINE, document=LONG)
    AccessGroupPolicy.objects.create(
        access_group=group, kind=PolicyKind.CUSTOMER_MANAGED, name="Deploy", path="/team/"
    )
    services.access_request_create(
        requester=alice, access_group=group, justification="x", duration_hours=2
    )
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert "risk-high-card" in page and "High risk</span>" in page
    assert "<li>sandbox (100000000001)</li>" in page
    assert 'AdministratorAccess</span> <span class="risk risk-high">High risk</span>' in page
    assert "<li>/team/Deploy</li>" in page
    # Indented JSON, collapsed because it is long.
    assert '<details class="policy">' in page and "&quot;Sid&quot;: &quot;S4&quot;" in page
    assert '\n  "Statement"' in page.replace("&quot;", '"')
    assert (
        "4 hours per sign-in" in page and "2 hours, counted from when access becomes active" in page
    )
    assert "No: this is new access." in page


def test_card_of_an_extension_names_the_current_access(client_for, alice, bob, readonly, grant):
    from datetime import timedelta

    from django.utils import timezone

    grant(alice, readonly, expires_at=timezone.now() + timedelta(hours=2))
    services.access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=1
    )
    page = client_for(bob).get(reverse("web:approvals")).content.decode()
    assert "Yes: this request is an extension. Current access expires" in page
    assert "risk-high-card" not in page
    assert "1 hour from approval: the expiry moves to then, never earlier" in page


def test_the_queue_costs_the_same_with_5_or_40_cards(client_for, bob, make_group, make_user, grant):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accessgroups.models import Account

    accounts = [Account.objects.create(account_id=f"9{i:011d}", name=f"a{i}") for i in range(3)]

    def cards(start: int, n: int) -> None:
        for i in range(start, start + n):
            group = make_group(
                f"G{i}",
                accounts=accounts,
                approvers=[bob],
                policies=(
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws:iam::aws:policy/AdministratorAccess",
                ),
            )
            AccessGroupPolicy.objects.create(access_group=group, kind=PolicyKind.INLINE, document=LONG)
            AccessGroupPolicy.objects.create(
                access_group=group, kind=PolicyKind.CUSTOMER_MANAGED, name="p", path="/"
            )
            requester = make_user(f"user{i}")
            if i % 2:  # half of them extend access they hold
                grant(requester, group, expires_at=timezone.now() + timedelta(hours=1))
            services.access_request_create(
                requester=requester, access_group=group, justification="x", duration_hours=1
            )

    client = client_for(bob)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("web:approvals"))
        assert response.status_code == 200
        return len(captured)

    cards(0, 5)
    few = queries()
    cards(5, 35)
    assert queries() == few
