"""Pages with approvers and eligibility by Identity Center group: the catalogue shows only
what a user may request, the approval queue what a group member decides, the admins' groups
page the cache and its refresh; each costs the same queries with 5 rows as with 60."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accessgroups.models import AccessGroup, AccessRequest, GroupSync
from accessgroups.web import choices

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> tuple[int, str]:
    # The cold path: pages keep what groups grant in the cache (accessgroups.web.cards) and
    # the account filter's options in process memory (accessgroups.web.choices).
    cache.clear()
    choices.forget()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


@pytest.fixture
def world(ic_group, linked, alice, erin, make_group, sandbox):
    """Gated groups only Engineers (alice) may request, approved by Platform-Leads (erin)."""
    engineers = ic_group("Engineers", members=[linked(alice)])
    leads = ic_group("Platform-Leads", members=[linked(erin)])
    made = iter(range(1000))

    def groups(n: int) -> None:
        for _ in range(n):
            group = make_group(f"Gated{next(made):03d}", accounts=[sandbox])
            group.eligible_groups.set([engineers])
            group.approver_groups.set([leads])
            hidden = make_group(f"Finance{next(made):03d}", accounts=[sandbox])
            hidden.eligible_groups.set([ic_group(f"Fin{hidden.pk}")])
            hidden.approver_groups.set([leads])

    return groups


def test_the_catalogue_shows_what_the_user_may_request(client_for, alice, bob, world):
    world(5)
    client = client_for(alice)
    few, page = _queries(client, reverse("web:catalogue"))
    assert "Gated000" in page and "Finance" not in page
    assert "members of Platform-Leads" in page
    world(30)
    many, _ = _queries(client, reverse("web:catalogue"))
    assert many == few
    _, page = _queries(client_for(bob), reverse("web:catalogue"))
    assert "Gated" not in page


def test_the_request_form_of_a_group_one_may_not_request_is_403(client_for, bob, world):
    world(1)
    group_id = AccessGroup.objects.get(name="Gated000").pk
    response = client_for(bob).get(reverse("web:request-create", args=[group_id]))
    assert response.status_code == 403


def test_the_queue_of_a_group_member(client_for, alice, erin, world, make_user):
    world(5)
    requesters = [make_user(f"req{n}") for n in range(5)]
    AccessRequest.objects.bulk_create(
        AccessRequest(requester=u, access_group=g, justification="please")
        for g in AccessGroup.objects.all()
        for u in requesters
    )
    client = client_for(erin)
    few, page = _queries(client, reverse("web:approvals"))
    # Every request of the ten groups erin approves through Platform-Leads, none by name.
    assert "Waiting for your decision (50)" in page
    world(25)
    more = [make_user(f"more{n}") for n in range(5)]
    AccessRequest.objects.bulk_create(
        AccessRequest(requester=u, access_group=g, justification="please")
        for g in AccessGroup.objects.all()
        for u in more
    )
    many, _ = _queries(client, reverse("web:approvals"))
    assert many == few


def test_the_admins_groups_page_and_refresh(
    client_for, dave, alice, world, requested_syncs, django_capture_on_commit_callbacks
):
    world(2)
    GroupSync.objects.create(running=False, error="The portal's AWS credentials may not call")
    client = client_for(dave)
    count, page = _queries(client, reverse("web:manage-identity-center-groups"))
    assert "Platform-Leads" in page and "may not call" in page
    world(20)
    assert _queries(client, reverse("web:manage-identity-center-groups"))[0] == count
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:manage-identity-center-groups-refresh"))
    assert response.status_code == 302
    assert requested_syncs == [("group_sync_task", (dave.pk,))]
    assert client_for(alice).get(reverse("web:manage-identity-center-groups")).status_code == 403
    refused = client_for(alice).post(reverse("web:manage-identity-center-groups-refresh"))
    assert refused.status_code == 403


def test_the_group_form_names_identity_center_groups(client_for, dave, world, readonly):
    from accessgroups.models import IdentityCenterGroup

    # The portal's own ReadOnly group, as Identity Center lists it too, is not offered.
    IdentityCenterGroup.objects.create(group_id="g-own", display_name="ReadOnly")
    readonly.identity_center_group_id = "g-own"
    readonly.save()
    client = client_for(dave)
    url = reverse("web:manage-group-edit", args=[readonly.pk])
    page = client.get(url).content.decode()
    assert 'value="Platform-Leads"' in page and 'value="ReadOnly"' not in page
    form = {
        "description": "",
        "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "customer_managed_policies": "",
        "inline_policy": "",
        "session_duration": "PT1H",
        "requestable": "on",
        "max_duration_hours": "",
        "applications_note": "",
        "approver_groups": ["Platform-Leads"],
        "eligible_groups": ["Engineers"],
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.context["form"].errors
    assert [g.display_name for g in readonly.approver_groups.all()] == ["Platform-Leads"]
    assert [g.display_name for g in readonly.eligible_groups.all()] == ["Engineers"]
    detail = client.get(reverse("web:manage-group-detail", args=[readonly.pk])).content.decode()
    assert "Platform-Leads" in detail and "Engineers" in detail
    # No approver left at all: refused on the approvers field, nothing changed.
    response = client.post(url, {**form, "approver_groups": []})
    assert response.status_code == 400
    assert "at least one approver" in str(response.context["form"].errors["approvers"])
    assert readonly.approver_groups.count() == 1


def test_the_admins_list_of_access_groups_shows_approver_groups(client_for, dave, world):
    world(3)
    client = client_for(dave)
    few, page = _queries(client, reverse("web:manage-groups"))
    assert "members of Platform-Leads" in page
    world(20)
    assert _queries(client, reverse("web:manage-groups"))[0] == few
