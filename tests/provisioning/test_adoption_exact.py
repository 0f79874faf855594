"""An imported access group is adopted exactly: the portal's provisioning finds nothing to
change, and the workflow then adds members to the group that was already there."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import F

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.catalogue.services import access_group_update
from accessgroups.models import AccessGroup, Membership, ProvisioningStatus, RequestStatus, User
from provisioning import tasks
from tests.provisioning.adoption_state import PRODUCTION, build
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def imported(ic, make_account, alice, bob, dave):
    """Imported with alice and bob linked to their identity store users of the same name."""
    existing = build(ic)
    make_account("production", account_id=PRODUCTION)
    call_command("import_identity_center", "--actor", "dave", stdout=io.StringIO())
    return existing


def make_pending(model, **filters) -> list[int]:
    """Make rows provision again as if something had changed, as an edit or a retry does."""
    rows = model.objects.filter(**filters)
    rows.update(generation=F("generation") + 1, provisioning_status=ProvisioningStatus.PENDING)
    return list(rows.values_list("pk", flat=True))


def test_provisioning_imported_groups_writes_nothing(imported, aws_calls):
    developers = AccessGroup.objects.get(name="Developers")

    # In sync as imported: the task has nothing to do, and does not even look.
    assert run_task(tasks.access_group_sync_task, developers.pk) == "skipped"
    assert aws_calls.calls == []

    # Made to compare everything with Identity Center, it finds it all as the rows say.
    for pk in make_pending(AccessGroup):
        assert run_task(tasks.access_group_sync_task, pk) == "in_sync"
    assert aws_calls.writes() == []
    assert aws_calls.count("DescribePermissionSet") == 2
    for read in (
        "DescribeGroup",
        "DescribePermissionSet",
        "ListManagedPoliciesInPermissionSet",
        "ListCustomerManagedPolicyReferencesInPermissionSet",
        "GetInlinePolicyForPermissionSet",
        "ListAccountAssignmentsForPrincipal",
    ):
        assert aws_calls.count(read) >= 1, read
    developers.refresh_from_db()
    assert developers.provisioning_status == ProvisioningStatus.IN_SYNC
    assert developers.last_error == ""
    assert set(developers.account_links.values_list("provisioning_status", flat=True)) == {
        ProvisioningStatus.IN_SYNC
    }


def test_provisioning_imported_users_and_memberships_writes_nothing(imported, aws_calls):
    for pk in make_pending(User, identity_center_user_id__gt=""):
        assert run_task(tasks.user_onboard_task, pk) == "in_sync"
    for pk in make_pending(Membership):
        assert run_task(tasks.membership_sync_task, pk) == "in_sync"

    assert aws_calls.writes() == []
    assert aws_calls.count("DescribeUser") == 4  # ada, grace, alice and bob
    assert aws_calls.count("GetGroupMembershipId") == 5
    assert sorted(
        Membership.objects.values_list("identity_center_membership_id", flat=True)
    ) == sorted(
        imported.memberships[(group, user)]
        for group, user in [
            ("Developers", "ada"),
            ("Developers", "alice"),
            ("Developers", "bob"),
            ("Developers", "grace"),
            ("Auditors", "grace"),
        ]
    )


def test_a_request_approved_for_an_imported_group_joins_the_existing_group(
    imported, ic, aws_calls, dave, bob, erin, enqueued
):
    developers = AccessGroup.objects.get(name="Developers")
    developers = access_group_update(
        actor=dave, access_group=developers, approvers=["bob"], requestable=True
    )
    # Approvers and requestable live in the portal only: nothing to provision.
    assert enqueued == []

    request = access_request_create(
        requester=erin, access_group=developers, justification="shop release"
    )
    # The import suggests high risk for its PowerUserAccess: approving it takes a comment.
    request = access_request_approve(access_request=request, approver=bob, comment="release")
    assert enqueued == [("membership_sync_task", (request.membership_id,))]
    assert run_task(tasks.membership_sync_task, request.membership_id) == "in_sync"

    request.refresh_from_db()
    erin.refresh_from_db()
    assert request.status == RequestStatus.ACTIVE
    # erin was onboarded and added to the group that was there before the portal.
    assert aws_calls.writes() == ["CreateUser", "CreateGroupMembership"]
    assert aws_calls.named("CreateGroupMembership")[0]["GroupId"] == imported.groups["Developers"]
    assert erin.identity_center_user_id in ic.members(imported.groups["Developers"])
    assert [g["GroupId"] for g in ic.groups() if g["DisplayName"] == "Developers"] == [
        imported.groups["Developers"]
    ]
    assert ic.permission_sets_named("Developers") == [imported.permission_sets["Developers"]]
