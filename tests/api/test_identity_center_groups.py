"""Approvers and eligibility by group through the API: naming groups (400 for unknown ones,
naming the field), the group list and the refresh on demand, the catalogue filter, a 403
with the reason for a request from someone not eligible, approval by a group member and
self-approval refused however one is an approver."""

from __future__ import annotations

import pytest

from accessgroups.models import AccessGroup, AccessRequest, AuditEvent, IdentityCenterGroup
from tests.api.helpers import assert_bad_input, database_fingerprint

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory(ic_group, linked, alice, erin, readonly):
    """Engineers (alice), Platform-Leads (erin), Finance (nobody), and the portal's own
    ReadOnly group as Identity Center lists it too."""
    ic_group("Engineers", members=[linked(alice)])
    ic_group("Platform-Leads", members=[linked(erin)])
    ic_group("Finance")
    readonly.identity_center_group_id = "g-portal-readonly"
    readonly.save()
    IdentityCenterGroup.objects.create(group_id="g-portal-readonly", display_name="ReadOnly")


def test_groups_are_named_and_read_back_by_name(api, dave, readonly, directory):
    version = readonly.version
    response = api(dave).patch(
        f"/api/v1/access-groups/{readonly.pk}/",
        {"approver_groups": ["Platform-Leads"], "eligible_groups": ["Engineers", "Finance"]},
        format="json",
    )
    assert response.status_code == 200, response.data
    assert response.data["approver_groups"] == ["Platform-Leads"]
    assert response.data["eligible_groups"] == ["Engineers", "Finance"]
    readonly.refresh_from_db()
    assert readonly.version == version + 1, "approver groups are part of what an approver saw"
    event = AuditEvent.objects.filter(action="access_group.updated").latest("sequence")
    assert event.data["approver_groups"] == {"added": ["Platform-Leads"], "removed": []}
    assert event.data["eligible_groups"] == {"added": ["Engineers", "Finance"], "removed": []}


@pytest.mark.parametrize(
    ("field", "names", "reason"),
    [
        ("approver_groups", ["Nobody"], "Unknown Identity Center group"),
        ("eligible_groups", ["Engineers", "engineers"], "Unknown Identity Center group"),
        ("eligible_groups", ["Engineers", "Engineers"], "once"),
        ("approver_groups", ["ReadOnly"], "access group of this portal"),
        ("approver_groups", "Engineers", None),
        ("eligible_groups", [None], None),
    ],
)
def test_bad_group_names_are_400_on_the_field(api, dave, readonly, directory, field, names, reason):
    client = api(dave)
    before = database_fingerprint()
    response = client.patch(f"/api/v1/access-groups/{readonly.pk}/", {field: names}, format="json")
    assert_bad_input(response, field, before)
    if reason:
        assert reason in str(response.data[field])


def test_a_requestable_group_needs_an_approver_by_name_or_by_group(api, dave, readonly, directory):
    client = api(dave)
    before = database_fingerprint()
    url = f"/api/v1/access-groups/{readonly.pk}/"
    response = client.patch(url, {"approvers": []}, format="json")
    assert_bad_input(response, "approvers", before)
    response = client.patch(
        f"/api/v1/access-groups/{readonly.pk}/",
        {"approvers": [], "approver_groups": ["Platform-Leads"]},
        format="json",
    )
    assert response.status_code == 200, response.data
    before = database_fingerprint()
    response = client.post("/api/v1/access-groups/", {"name": "Nobody"}, format="json")
    assert_bad_input(response, "approvers", before)
    response = client.post(
        "/api/v1/access-groups/", {"name": "Nobody", "requestable": False}, format="json"
    )
    assert response.status_code == 202, response.data


def test_the_catalogue_filter_and_may_request(api, alice, carol, readonly, make_group, directory):
    gated = make_group("Gated", approvers=[])
    gated.eligible_groups.set([IdentityCenterGroup.objects.get(display_name="Finance")])
    everyone = api(alice).get("/api/v1/access-groups/").data["results"]
    assert {g["name"]: g["may_request"] for g in everyone} == {"Gated": False, "ReadOnly": True}
    mine = api(alice).get("/api/v1/access-groups/?may_request=true").data["results"]
    assert [g["name"] for g in mine] == ["ReadOnly"]
    assert api(carol).get("/api/v1/access-groups/?may_request=maybe").status_code == 400


def test_a_request_from_someone_not_eligible_is_403_with_the_reason(
    api, bob, alice, readonly, directory
):
    readonly.eligible_groups.set([IdentityCenterGroup.objects.get(display_name="Engineers")])
    client = api(bob)
    before = database_fingerprint()
    response = client.post(
        "/api/v1/access-requests/",
        {"access_group": readonly.pk, "justification": "please"},
        format="json",
    )
    assert response.status_code == 403
    assert "Engineers" in response.data["detail"]
    assert database_fingerprint() == before
    response = api(alice).post(
        "/api/v1/access-requests/",
        {"access_group": readonly.pk, "justification": "please"},
        format="json",
    )
    assert response.status_code == 201, response.data


def test_a_group_member_approves_but_never_their_own_request(api, alice, erin, readonly, directory):
    readonly.approver_groups.set([IdentityCenterGroup.objects.get(display_name="Platform-Leads")])
    theirs = AccessRequest.objects.create(requester=erin, access_group=readonly, justification="x")
    client = api(erin)
    before = database_fingerprint()
    response = client.post(f"/api/v1/access-requests/{theirs.pk}/approve/", {}, format="json")
    assert response.status_code == 403
    assert database_fingerprint() == before

    request = AccessRequest.objects.create(
        requester=alice, access_group=readonly, justification="x"
    )
    response = client.post(f"/api/v1/access-requests/{request.pk}/approve/", {}, format="json")
    assert response.status_code in (200, 202), response.data
    event = AuditEvent.objects.get(action="request.approved")
    assert event.data["entitled_by"] == {"approver": "group", "group": "Platform-Leads"}


def test_the_group_list_leaves_out_the_portals_own_groups(api, carol, directory):
    response = api(carol).get("/api/v1/identity-center-groups/")
    assert response.status_code == 200
    names = [g["name"] for g in response.data["results"]]
    assert names == ["Engineers", "Finance", "Platform-Leads"]
    assert response.data["results"][0]["member_count"] == 1


def test_a_refresh_on_demand_is_202_and_sends_the_task(
    api, dave, carol, requested_syncs, django_capture_on_commit_callbacks
):
    status = api(carol).get("/api/v1/identity-center-groups/sync/")
    assert status.data == {"interval_seconds": 300, "last": None}
    with django_capture_on_commit_callbacks(execute=True):
        response = api(dave).post("/api/v1/identity-center-groups/sync/", {}, format="json")
    assert response.status_code == 202
    assert requested_syncs == [("group_sync_task", (dave.pk,))]
    assert AuditEvent.objects.filter(action="identity_center_groups.sync_requested").exists()


def test_naming_a_group_never_read_asks_for_a_refresh(
    api, dave, readonly, directory, requested_syncs, django_capture_on_commit_callbacks
):
    unread = IdentityCenterGroup.objects.create(group_id="g-new", display_name="New-Team")
    assert unread.members_synced_at is None
    with django_capture_on_commit_callbacks(execute=True):
        api(dave).patch(
            f"/api/v1/access-groups/{readonly.pk}/",
            {"approver_groups": ["New-Team"]},
            format="json",
        )
    assert ("group_sync_task", (None,)) in requested_syncs
    assert AccessGroup.objects.get(pk=readonly.pk).approver_groups.get() == unread
