"""Admin pages: accounts and access groups, through the catalogue services."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    AccessRequest,
    Account,
    AuditEvent,
    PolicyKind,
    ProvisioningStatus,
    RequestStatus,
    User,
)

pytestmark = pytest.mark.django_db

READ_PAGES = [
    "web:manage-accounts",
    "web:manage-users",
    "web:manage-groups",
    "web:manage-group-create",
    "web:manage-provisioning",
]


def _snapshot() -> tuple:
    """Everything an admin page can change, to prove a refused call changed nothing."""
    return (
        list(Account.objects.values_list("account_id", "name", "email")),
        list(
            User.objects.values_list("username", "is_active", "provisioning_status", "generation")
        ),
        list(
            AccessGroup.objects.values_list(
                "name",
                "description",
                "session_duration",
                "archived_at",
                "provisioning_status",
                "generation",
            )
        ),
        list(AccessGroupAccount.objects.values_list("access_group_id", "account_id", "valid_to")),
        list(AccessGroupPolicy.objects.values_list("access_group_id", "arn", "valid_to")),
        AuditEvent.objects.count(),
    )


def _group_form(**overrides) -> dict:
    data = {
        "name": "Deploy",
        "description": "Deploys the app",
        "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "customer_managed_policies": "",
        "inline_policy": "",
        "session_duration": "PT2H",
        "requestable": "on",
        "max_duration_hours": "8",
        "applications_note": "",
    }
    data.update(overrides)
    return data


# --- permissions ------------------------------------------------------------------------------


@pytest.fixture
def failed_group(make_group, sandbox, bob):
    return make_group(
        "Broken",
        accounts=[sandbox],
        approvers=[bob],
        provisioning_status=ProvisioningStatus.FAILED,
        last_error="AccessDenied: no rights",
    )


def _posts(group: AccessGroup, target: User) -> list[tuple[str, dict]]:
    return [
        (reverse("web:manage-accounts"), {"account_id": "123456789012", "name": "new"}),
        (reverse("web:manage-accounts-sync"), {}),
        (
            reverse("web:manage-users"),
            {
                "username": "zoe",
                "email": "zoe@example.com",
                "given_name": "Zoe",
                "family_name": "Z",
            },
        ),
        (reverse("web:manage-user-deactivate", args=[target.pk]), {}),
        (reverse("web:manage-user-retry", args=[target.pk]), {}),
        (reverse("web:manage-group-create"), _group_form(name="Other")),
        (reverse("web:manage-group-edit", args=[group.pk]), _group_form(description="changed")),
        (reverse("web:manage-group-archive", args=[group.pk]), {}),
        (reverse("web:manage-group-retry", args=[group.pk]), {}),
    ]


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_non_admins_get_403_everywhere_and_change_nothing(
    request, client_for, persona, failed_group, erin
):
    user = request.getfixturevalue(persona)  # bob approves Broken; carol audits
    User.objects.filter(pk=erin.pk).update(provisioning_status=ProvisioningStatus.FAILED)
    client = client_for(user)
    pages = [reverse(name) for name in READ_PAGES] + [
        reverse("web:manage-group-detail", args=[failed_group.pk]),
        reverse("web:manage-group-edit", args=[failed_group.pk]),
        reverse("web:manage-group-archive", args=[failed_group.pk]),
    ]
    for url in pages:
        assert client.get(url).status_code == 403, url
    before = _snapshot()
    for url, data in _posts(failed_group, erin):
        assert client.post(url, data).status_code == 403, url
    assert _snapshot() == before


def test_admin_nav_shows_admin_pages_only_to_admins(client_for, dave, carol):
    page = client_for(dave).get(reverse("web:catalogue")).content.decode()
    assert reverse("web:manage-groups") in page and reverse("web:manage-users") in page
    assert (
        reverse("web:manage-groups")
        not in client_for(carol).get(reverse("web:catalogue")).content.decode()
    )


def test_posts_need_csrf(dave, failed_group):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(dave)
    before = _snapshot()
    assert (
        client.post(reverse("web:manage-group-archive", args=[failed_group.pk])).status_code == 403
    )
    assert _snapshot() == before


# --- accounts ---------------------------------------------------------------------------------


def test_add_an_account_by_hand_and_errors_by_the_field(client_for, dave, sandbox):
    client = client_for(dave)
    response = client.post(reverse("web:manage-accounts"), {"account_id": "12", "name": "x"})
    assert response.status_code == 400
    assert "account_id" in response.context["form"].errors
    response = client.post(
        reverse("web:manage-accounts"), {"account_id": sandbox.account_id, "name": "again"}
    )
    assert response.context["form"].errors["account_id"] == ["This account is already known."]
    assert Account.objects.count() == 1
    response = client.post(
        reverse("web:manage-accounts"),
        {"account_id": "210987654321", "name": "prod", "email": "aws@example.com"},
    )
    assert response.status_code == 302
    assert Account.objects.get(account_id="210987654321").name == "prod"
    assert "210987654321" in client.get(reverse("web:manage-accounts")).content.decode()


def test_sync_asks_a_worker(client_for, dave, django_capture_on_commit_callbacks, requested_syncs):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(dave).post(reverse("web:manage-accounts-sync"), follow=True)
    assert requested_syncs == [("accounts_sync_task", (dave.pk,))]
    assert "Reading the accounts from AWS Organizations" in response.content.decode()
    assert AuditEvent.objects.filter(action="account.sync_requested").count() == 1


# --- access groups ----------------------------------------------------------------------------


def test_create_a_group_with_every_field(client_for, dave, bob, erin, sandbox, make_account):
    prod = make_account("prod")
    inline = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    response = client_for(dave).post(
        reverse("web:manage-group-create"),
        _group_form(
            accounts=[sandbox.account_id, prod.account_id],
            approvers=["bob", "erin"],
            aws_managed_policies="arn:aws:iam::aws:policy/ReadOnlyAccess\n\narn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess\n",
            customer_managed_policies="/team/ DeployPolicy\nBasePolicy",
            inline_policy=json.dumps(inline),
            applications_note="Grafana",
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    group = AccessGroup.objects.get(name="Deploy")
    assert response["Location"] == reverse("web:manage-group-detail", args=[group.pk])
    assert group.description == "Deploys the app"
    assert group.session_duration == "PT2H" and group.max_duration_hours == 8 and group.requestable
    assert group.applications_note == "Grafana"
    assert sorted(a.account_id for a in group.current_accounts()) == sorted(
        [sandbox.account_id, prod.account_id]
    )
    assert sorted(group.approvers.values_list("username", flat=True)) == ["bob", "erin"]
    policies = group.current_policies()
    assert sorted(p.arn for p in policies if p.kind == PolicyKind.AWS_MANAGED) == [
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ]
    assert sorted((p.path, p.name) for p in policies if p.kind == PolicyKind.CUSTOMER_MANAGED) == [
        ("/", "BasePolicy"),
        ("/team/", "DeployPolicy"),
    ]
    assert [p.document for p in policies if p.kind == PolicyKind.INLINE] == [inline]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"session_duration": "PT13H"}, "session_duration", "between PT1H and PT12H"),
        ({"session_duration": "two hours"}, "session_duration", "ISO 8601"),
        ({"name": "has space"}, "name", ""),
        ({"aws_managed_policies": "not-an-arn"}, "aws_managed_policies", ""),
        (
            {"customer_managed_policies": "nopath/ Name"},
            "customer_managed_policies",
            "not a valid IAM path",
        ),
        ({"customer_managed_policies": "a b c"}, "customer_managed_policies", '"path name"'),
        ({"inline_policy": "{not json"}, "inline_policy", "not valid JSON"),
        ({"inline_policy": "[1]"}, "inline_policy", "JSON object"),
        ({"max_duration_hours": "0"}, "max_duration_hours", ""),
        ({"max_duration_hours": "abc"}, "max_duration_hours", ""),
        ({"approvers": ["nobody"]}, "approvers", ""),
        ({"accounts": ["999999999999"]}, "accounts", ""),
        ({"name": "ReadOnly"}, "name", "exists"),
    ],
)
def test_group_errors_by_the_field_save_nothing(
    client_for, dave, readonly, overrides, field, fragment
):
    before = _snapshot()
    response = client_for(dave).post(reverse("web:manage-group-create"), _group_form(**overrides))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert fragment in " ".join(errors[field])
    # The message is on the page next to its field (inside the field's group).
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page or f'id="id_{field}"' in page
    assert _snapshot() == before


def test_edit_every_field_but_the_name(client_for, dave, erin, readonly, sandbox, make_account):
    prod = make_account("prod")
    client = client_for(dave)
    form = client.get(reverse("web:manage-group-edit", args=[readonly.pk]))
    assert form.status_code == 200
    assert "name" not in form.context["form"].fields
    initial = form.context["form"].initial
    assert initial["accounts"] == [sandbox.account_id] and initial["approvers"] == ["bob"]
    assert initial["aws_managed_policies"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    response = client.post(
        reverse("web:manage-group-edit", args=[readonly.pk]),
        _group_form(
            name="Renamed",  # ignored: the field does not exist on the edit form
            description="new words",
            accounts=[prod.account_id],
            approvers=["erin"],
            aws_managed_policies="",
            customer_managed_policies="/ops/ OpsPolicy",
            session_duration="PT1H30M",
            requestable="",
            max_duration_hours="",
            applications_note="none",
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    readonly.refresh_from_db()
    assert readonly.name == "ReadOnly" and readonly.description == "new words"
    assert readonly.session_duration == "PT1H30M" and not readonly.requestable
    assert readonly.max_duration_hours is None and readonly.applications_note == "none"
    assert [a.account_id for a in readonly.current_accounts()] == [prod.account_id]
    assert list(readonly.approvers.values_list("username", flat=True)) == ["erin"]
    assert [(p.kind, p.name) for p in readonly.current_policies()] == [
        (PolicyKind.CUSTOMER_MANAGED, "OpsPolicy")
    ]
    # History stays: the sandbox link and the ReadOnlyAccess policy are end-dated, not deleted.
    assert AccessGroupAccount.objects.filter(
        access_group=readonly, account=sandbox, valid_to__isnull=False
    ).exists()
    assert readonly.provisioning_status == ProvisioningStatus.PENDING


def test_edit_with_a_bad_field_saves_nothing(client_for, dave, readonly, sandbox):
    before = _snapshot()
    response = client_for(dave).post(
        reverse("web:manage-group-edit", args=[readonly.pk]),
        _group_form(
            description="changed",
            accounts=[sandbox.account_id],
            approvers=["bob"],
            session_duration="PT30M",
        ),
    )
    assert response.status_code == 400
    assert "between PT1H and PT12H" in response.context["form"].errors["session_duration"][0]
    assert _snapshot() == before


def test_group_detail_shows_assignment_status_per_account(
    client_for, dave, readonly, sandbox, make_account
):
    prod = make_account("prod")
    AccessGroupAccount.objects.filter(access_group=readonly).update(
        provisioning_status=ProvisioningStatus.IN_SYNC
    )
    AccessGroupAccount.objects.create(
        access_group=readonly,
        account=prod,
        provisioning_status=ProvisioningStatus.FAILED,
        last_error="The customer managed policy DeployPolicy does not exist in account prod.",
    )
    AccessGroup.objects.filter(pk=readonly.pk).update(
        provisioning_status=ProvisioningStatus.FAILED, last_error="Could not assign 1 account."
    )
    client = client_for(dave)
    page = client.get(reverse("web:manage-group-detail", args=[readonly.pk])).content.decode()
    assert "does not exist in account prod." in page
    assert 'status status-in_sync">In sync' in page and 'status status-failed">Failed' in page
    assert reverse("web:manage-group-retry", args=[readonly.pk]) in page
    listing = client.get(reverse("web:manage-groups")).content.decode()
    assert "Could not assign 1 account." in listing and "1 account assignment failed." in listing
    client.post(reverse("web:manage-group-retry", args=[readonly.pk]))
    readonly.refresh_from_db()
    assert readonly.provisioning_status == ProvisioningStatus.PENDING


def test_archive_asks_first_then_archives(client_for, dave, alice, readonly):
    AccessRequest.objects.create(requester=alice, access_group=readonly, justification="x")
    client = client_for(dave)
    confirm = client.get(reverse("web:manage-group-archive", args=[readonly.pk]))
    assert confirm.status_code == 200
    assert "cancels 1 open request" in confirm.content.decode()
    readonly.refresh_from_db()
    assert readonly.archived_at is None  # looking at the question changes nothing
    response = client.post(reverse("web:manage-group-archive", args=[readonly.pk]), follow=True)
    assert "archived" in response.content.decode()
    readonly.refresh_from_db()
    assert readonly.archived_at is not None
    assert AccessRequest.objects.get().status == RequestStatus.CANCELLED
    # Archived groups leave the list, cannot be edited, and a second archive is refused politely.
    assert "ReadOnly" not in client.get(reverse("web:manage-groups")).content.decode()
    assert "ReadOnly" in client.get(reverse("web:manage-groups"), {"show": "all"}).content.decode()
    assert client.get(reverse("web:manage-group-edit", args=[readonly.pk])).status_code == 302
    again = client.post(reverse("web:manage-group-archive", args=[readonly.pk]), follow=True)
    assert "already archived" in again.content.decode()


# --- query counts -----------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _more_groups(n: int, start: int, accounts, approvers) -> None:
    groups = AccessGroup.objects.bulk_create(AccessGroup(name=f"G{start + i}") for i in range(n))
    AccessGroupAccount.objects.bulk_create(
        AccessGroupAccount(access_group=g, account=a) for g in groups for a in accounts
    )
    AccessGroupPolicy.objects.bulk_create(
        AccessGroupPolicy(
            access_group=g,
            kind=PolicyKind.AWS_MANAGED,
            arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
        )
        for g in groups
    )
    for g in groups:
        g.approvers.set(approvers)


def test_lists_cost_the_same_queries_with_5_or_100_rows(client_for, dave, bob, erin, make_account):
    accounts = [make_account() for _ in range(3)]
    client = client_for(dave)
    User.objects.bulk_create(User(username=f"u{i}", email=f"u{i}@example.com") for i in range(5))
    _more_groups(5, 0, accounts, [bob, erin])
    urls = [
        reverse("web:manage-users"),
        reverse("web:manage-groups"),
        reverse("web:manage-accounts"),
    ]
    few = [_queries(client, url) for url in urls]
    User.objects.bulk_create(User(username=f"v{i}", email=f"v{i}@example.com") for i in range(95))
    _more_groups(95, 5, accounts, [bob, erin])
    for _ in range(95):
        make_account()
    assert [_queries(client, url) for url in urls] == few
    page = client.get(reverse("web:manage-groups")).content.decode()
    assert page.count('class="group-row"') == 50
