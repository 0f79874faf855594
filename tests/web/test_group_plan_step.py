"""The group form shows what saving does (changes, Identity Center work, impact) first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.models import AccessGroup, AuditEvent
from tests.web.test_manage_pages import _group_form

pytestmark = pytest.mark.django_db


def test_review_shows_the_plan_and_saves_nothing(client_for, dave, bob, sandbox):
    client = client_for(dave)
    response = client.post(
        reverse("web:manage-group-create"), {**_group_form(accounts=[sandbox.account_id], approvers=["bob"]), "review": ""}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "What saving does" in page
    assert "Create the permission set Deploy" in page
    assert f"Create 1 account assignment: sandbox ({sandbox.account_id})" in page
    assert "1 account added (no members yet)." in page
    assert 'name="plan_token"' in page
    assert not AccessGroup.objects.filter(name="Deploy").exists()
    assert not AuditEvent.objects.filter(action="access_group.created").exists()

    # Save with the token of what was reviewed saves it.
    token = response.context["plan_token"]
    saved = client.post(
        reverse("web:manage-group-create"),
        {**_group_form(accounts=[sandbox.account_id], approvers=["bob"]), "save": "", "plan_token": token},
    )
    assert saved.status_code == 302
    assert AccessGroup.objects.filter(name="Deploy").exists()


def test_a_form_changed_after_its_review_is_reviewed_again(client_for, dave, bob, sandbox, make_account):
    client = client_for(dave)
    reviewed = client.post(
        reverse("web:manage-group-create"), {**_group_form(accounts=[sandbox.account_id], approvers=["bob"]), "review": ""}
    )
    prod = make_account("prod")
    response = client.post(
        reverse("web:manage-group-create"),
        {
            **_group_form(accounts=[sandbox.account_id, prod.account_id], approvers=["bob"]),
            "save": "",
            "plan_token": reviewed.context["plan_token"],
        },
    )
    assert response.status_code == 200
    assert "Create 2 account assignments" in response.content.decode()
    assert not AccessGroup.objects.filter(name="Deploy").exists()


def test_an_edit_is_reviewed_with_from_and_to(client_for, dave, readonly, alice, grant):
    grant(alice, readonly)
    AccessGroup.objects.filter(pk=readonly.pk).update(
        permission_set_arn="arn:aws:sso:::permissionSet/ssoins-1/ps-1", identity_center_group_id="g-1"
    )
    client = client_for(dave)
    form = client.get(reverse("web:manage-group-edit", args=[readonly.pk])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"session_duration": "PT2H", "review": ""})
    response = client.post(reverse("web:manage-group-edit", args=[readonly.pk]), data)
    assert response.status_code == 200, response.context["form"].errors
    rows = response.context["change_rows"]
    assert {"label": "Session duration", "from": "PT1H", "to": "PT2H"} in rows
    page = response.content.decode()
    assert "Update the permission set&#x27;s session duration" in page
    assert "Provision the permission set to 1 account" in page
    assert "What 1 member may do changes in 1 account." in page
    readonly.refresh_from_db()
    assert readonly.session_duration == "PT1H"


def test_a_refused_review_shows_the_errors(client_for, dave, bob, readonly):
    response = client_for(dave).post(
        reverse("web:manage-group-create"), {**_group_form(name="ReadOnly"), "review": ""}
    )
    assert response.status_code == 400
    assert "name" in response.context["form"].errors


def test_the_archive_question_lists_what_is_removed(client_for, dave, readonly, sandbox):
    AccessGroup.objects.filter(pk=readonly.pk).update(
        permission_set_arn="arn:aws:sso:::permissionSet/ssoins-1/ps-1", identity_center_group_id="g-1"
    )
    page = client_for(dave).get(reverse("web:manage-group-archive", args=[readonly.pk])).content.decode()
    assert f"Delete 1 account assignment: sandbox ({sandbox.account_id})" in page
    assert "Delete the permission set ReadOnly" in page
    assert "Delete the group ReadOnly and its memberships" in page
