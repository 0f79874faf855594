"""Approvers and eligibility by group against the moto *server*, as against AWS.

The identity store is filled the way a SCIM identity provider fills it, with boto3 before
the portal reads anything: users whose user names are email addresses, groups, memberships.
Portal users are linked to those users by their Identity Center id (what the external
identity source stores). Then, through the API: the groups are read, named on an access
group, only members of the eligible group may request, a member of the approver group
approves, and once the IdP removes them from that group the next refresh ends it.
"""

from __future__ import annotations

import pytest

from accessgroups.models import AccessRequest, AuditEvent, IdentityCenterGroup
from provisioning import directory, tasks
from tests.provisioning.conftest import run_task
from tests.provisioning.test_drift_server import server  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def _scim_like_store(server) -> dict[str, str]:
    """Users and groups as an IdP's SCIM client creates them; returns user ids by email."""
    ids, store = server.ids, server.store
    users = {}
    for email, given in (
        ("alice@example.com", "Alice"),
        ("erin@example.com", "Erin"),
        ("frank@example.com", "Frank"),
        ("bob@example.com", "Bob"),
    ):
        users[email] = ids.create_user(
            IdentityStoreId=store,
            UserName=email,
            DisplayName=f"{given} Example",
            Name={"GivenName": given, "FamilyName": "Example"},
            Emails=[{"Value": email, "Type": "work", "Primary": True}],
        )["UserId"]
    groups = {
        name: ids.create_group(
            IdentityStoreId=store, DisplayName=name, Description="from the IdP"
        )["GroupId"]
        for name in ("Engineers", "Platform-Leads", "Finance")
    }
    for group, emails in (
        ("Engineers", ["alice@example.com", "frank@example.com", "erin@example.com"]),
        ("Platform-Leads", ["erin@example.com"]),
    ):
        for email in emails:
            ids.create_group_membership(
                IdentityStoreId=store, GroupId=groups[group], MemberId={"UserId": users[email]}
            )
    users["leads-membership"] = ids.list_group_memberships(
        IdentityStoreId=store, GroupId=groups["Platform-Leads"]
    )["GroupMemberships"][0]["MembershipId"]
    return users


def _link(user, ic_user_id: str):
    user.identity_center_user_id = ic_user_id
    user.save(update_fields=["identity_center_user_id"])
    return user


def test_approvers_and_eligibility_by_group_from_a_scim_store(
    server, enqueued, api, make_user, make_group, sandbox, alice, bob, erin, dave
):
    store = _scim_like_store(server)
    _link(alice, store["alice@example.com"])
    _link(erin, store["erin@example.com"])
    _link(bob, store["bob@example.com"])
    frank = _link(make_user("frank"), store["frank@example.com"])
    group = make_group("Prod", accounts=[sandbox], approvers=[dave])
    # The portal's own group exists in Identity Center too, once provisioned.
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"

    admin = api(dave)
    assert admin.post("/api/v1/identity-center-groups/sync/", {}, format="json").status_code == 202
    assert enqueued[-1] == ("group_sync_task", (dave.pk,))
    assert run_task(tasks.group_sync_task, dave.pk) == "in_sync"
    listed = admin.get("/api/v1/identity-center-groups/").data["results"]
    assert [g["name"] for g in listed] == ["Engineers", "Finance", "Platform-Leads"]
    assert IdentityCenterGroup.objects.filter(display_name="Prod").exists()  # cached, not offered

    refused = admin.patch(
        f"/api/v1/access-groups/{group.pk}/", {"approver_groups": ["Prod"]}, format="json"
    )
    assert refused.status_code == 400 and "approver_groups" in refused.data
    response = admin.patch(
        f"/api/v1/access-groups/{group.pk}/",
        {"approvers": [], "approver_groups": ["Platform-Leads"], "eligible_groups": ["Engineers"]},
        format="json",
    )
    assert response.status_code == 200, response.data
    # The groups' members were never read: naming them asked for a refresh.
    assert enqueued[-1] == ("group_sync_task", (None,))
    run = directory.group_sync()
    assert (run.groups, run.groups_read, run.members) == (4, 2, 4)

    refused = api(bob).post(
        "/api/v1/access-requests/", {"access_group": group.pk, "justification": "x"}, format="json"
    )
    assert refused.status_code == 403 and "Engineers" in refused.data["detail"]
    catalogue = api(bob).get("/api/v1/access-groups/?may_request=true").data["results"]
    assert catalogue == []

    def ask(user):
        body = {"access_group": group.pk, "justification": "deploy"}
        response = api(user).post("/api/v1/access-requests/", body, format="json")
        assert response.status_code == 201, response.data
        return response.data["id"]

    first, second, own = ask(alice), ask(frank), ask(erin)
    leads = api(erin)

    def approve(pk):
        return leads.post(f"/api/v1/access-requests/{pk}/approve/", {}, format="json")

    assert approve(own).status_code == 403  # a group member never approves their own
    approved = approve(first)
    assert approved.status_code in (200, 202), approved.data
    event = AuditEvent.objects.get(action="request.approved")
    assert event.data["entitled_by"] == {"approver": "group", "group": "Platform-Leads"}
    assert event.actor_username == "erin"

    # The IdP removes erin from Platform-Leads: she approves until the next refresh.
    server.ids.delete_group_membership(
        IdentityStoreId=server.store, MembershipId=store["leads-membership"]
    )
    assert AccessRequest.objects.decidable_by(erin).filter(pk=second).exists()
    assert run_task(tasks.group_sync_task) == "in_sync"
    refused = approve(second)
    # No longer an approver of the group, she no longer sees its requests at all.
    assert refused.status_code == 404
    assert not AccessRequest.objects.visible_to(erin).filter(pk=second).exists()
    assert AccessRequest.objects.get(pk=second).status == "pending"
