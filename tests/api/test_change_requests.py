"""/api/v1/change-requests/ and, with CHANGE_APPROVAL=required, the access group writes
that answer 202 with a change request instead of applying the change."""

import pytest

from accessgroups.models import AccessGroup, AuditEvent, ChangeRequest

pytestmark = pytest.mark.django_db

OUT_FIELDS = {
    "id",
    "access_group",
    "action",
    "proposed_by",
    "created_at",
    "changes",
    "plan",
    "impact",
    "status",
    "decided_by",
    "decided_at",
    "comment",
}


@pytest.fixture
def frank(make_user):
    return make_user("frank", is_portal_admin=True)


@pytest.fixture
def four_eyes(settings):
    settings.CHANGE_APPROVAL = "required"


def test_propose_approve_through_the_api(api, dave, frank, developers):
    proposed = api(dave).post(
        "/api/v1/change-requests/",
        {
            "action": "update",
            "access_group": developers.pk,
            "fields": {"session_duration": "PT8H"},
            "comment": "longer",
        },
        format="json",
    )
    assert proposed.status_code == 201, proposed.data
    assert OUT_FIELDS <= proposed.data.keys()
    assert proposed.data["changes"] == {"session_duration": {"from": "PT4H", "to": "PT8H"}}
    assert (proposed.data["status"], proposed.data["proposed_by"]) == ("pending", "dave")
    url = f"/api/v1/change-requests/{proposed.data['id']}/"

    own = api(dave).post(url + "approve/", {}, format="json")
    assert own.status_code == 403
    assert "Another admin" in own.data["detail"]

    approved = api(frank).post(url + "approve/", {"comment": "ok"}, format="json")
    assert approved.status_code == 202, approved.data
    assert (approved.data["status"], approved.data["decided_by"]) == ("approved", "frank")
    developers.refresh_from_db()
    assert developers.session_duration == "PT8H"
    assert api(frank).post(url + "approve/", {}, format="json").status_code == 409


def test_reject_and_withdraw(api, dave, frank, developers):
    def propose():
        return api(dave).post(
            "/api/v1/change-requests/",
            {"action": "archive", "access_group": developers.pk},
            format="json",
        ).data["id"]

    first = propose()
    rejected = api(frank).post(
        f"/api/v1/change-requests/{first}/reject/", {"comment": "no"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.data["status"] == "rejected"
    second = propose()
    url = f"/api/v1/change-requests/{second}/withdraw/"
    assert api(frank).post(url, {}, format="json").status_code == 403
    withdrawn = api(dave).post(url, {}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.data["status"] == "withdrawn"
    assert not AccessGroup.objects.get(pk=developers.pk).is_archived


def test_superseded_answers_409(api, dave, frank, developers):
    proposed = api(dave).post(
        "/api/v1/change-requests/",
        {"action": "update", "access_group": developers.pk, "fields": {"description": "A"}},
        format="json",
    )
    api(frank).patch(
        f"/api/v1/access-groups/{developers.pk}/", {"description": "B"}, format="json"
    )
    answer = api(frank).post(f"/api/v1/change-requests/{proposed.data['id']}/approve/")
    assert answer.status_code == 409
    assert "superseded" in answer.data["detail"]
    assert ChangeRequest.objects.get().status == "superseded"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "update", "access_group": None, "fields": {"description": "x"}}, "access_group"),
        ({"action": "rename", "fields": {}}, "action"),
        ({"action": "create", "fields": {"name": "bad name!"}}, "name"),
        ({"action": "create", "fields": {"name": "Ok", "session_duration": "PT13H"}}, "session_duration"),
        ({"action": "create", "fields": {"name": "Ok", "accounts": ["999999999999"]}}, "accounts"),
        ({"action": "create", "fields": {"name": "Ok", "requestable": "yes"}}, "requestable"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(api, dave, developers, body, field):
    answer = api(dave).post("/api/v1/change-requests/", body, format="json")
    assert answer.status_code == 400, answer.data
    assert field in answer.data
    assert not ChangeRequest.objects.exists()


def test_non_admins_cannot_propose_and_auditors_read(api, dave, bob, carol, developers):
    body = {"action": "archive", "access_group": developers.pk}
    assert api(bob).post("/api/v1/change-requests/", body, format="json").status_code == 403
    assert not ChangeRequest.objects.exists()
    api(dave).post("/api/v1/change-requests/", body, format="json")
    listed = api(carol).get("/api/v1/change-requests/?status=pending")
    assert listed.status_code == 200 and listed.data["count"] == 1
    assert api(carol).get("/api/v1/change-requests/?status=approved").data["count"] == 0
    assert api(bob).get("/api/v1/change-requests/").status_code == 403


def test_pending_ones_are_listed_first(api, dave, frank, developers):
    def propose(description):
        return api(dave).post(
            "/api/v1/change-requests/",
            {"action": "update", "access_group": developers.pk, "fields": {"description": description}},
            format="json",
        ).data["id"]

    first = propose("one")
    api(dave).post(f"/api/v1/change-requests/{first}/withdraw/")
    second = propose("two")
    listed = api(dave).get("/api/v1/change-requests/").data["results"]
    assert [r["id"] for r in listed] == [second, first]


def test_access_group_writes_make_change_requests_when_required(
    api, dave, bob, developers, accounts, four_eyes, requested_syncs
):
    created = api(dave).post(
        "/api/v1/access-groups/",
        {"name": "Ops", "accounts": [accounts[0].account_id], "approvers": ["bob"]},
        format="json",
    )
    assert created.status_code == 202, created.data
    assert (created.data["action"], created.data["access_group"]) == ("create", None)
    assert not AccessGroup.objects.filter(name="Ops").exists()

    changed = api(dave).patch(
        f"/api/v1/access-groups/{developers.pk}/", {"description": "New"}, format="json"
    )
    assert changed.status_code == 202 and changed.data["action"] == "update"
    assert changed.data["changes"] == {"description": {"from": "Build things", "to": "New"}}

    archived = api(dave).delete(f"/api/v1/access-groups/{developers.pk}/")
    assert archived.status_code == 202 and archived.data["action"] == "archive"
    developers.refresh_from_db()
    assert developers.description == "Build things" and not developers.is_archived
    assert requested_syncs == []
    assert ChangeRequest.objects.count() == 3
    assert not AuditEvent.objects.filter(action__startswith="access_group.").exclude(
        action="access_group.created", access_group=developers
    ).exists()

    bad = api(dave).patch(
        f"/api/v1/access-groups/{developers.pk}/", {"session_duration": "P1D"}, format="json"
    )
    assert bad.status_code == 400 and "session_duration" in bad.data
    assert ChangeRequest.objects.count() == 3


def test_access_group_writes_apply_at_once_when_off(api, dave, developers, settings):
    settings.CHANGE_APPROVAL = "off"
    changed = api(dave).patch(
        f"/api/v1/access-groups/{developers.pk}/", {"description": "New"}, format="json"
    )
    assert changed.status_code in (200, 202) and changed.data["description"] == "New"
    assert not ChangeRequest.objects.exists()
