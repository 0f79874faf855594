"""Change request pages: the list (pending first, by status), one change with its from → to
lines and plan, deciding through the confirmation step, and the group pages proposing
instead of saving when CHANGE_APPROVAL=required."""

import pytest
from django.urls import reverse

from accessgroups.changes.services import change_propose
from accessgroups.models import AccessGroup, ChangeRequest, ChangeStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def frank(make_user):
    return make_user("frank", is_portal_admin=True)


@pytest.fixture
def proposal(dave, developers):
    return change_propose(
        actor=dave,
        action="update",
        access_group=developers,
        fields={"session_duration": "PT8H", "description": "<b>bold</b>"},
        comment="longer sessions",
    )


def test_the_detail_shows_what_changes_and_the_plan(client_for, frank, proposal):
    html = client_for(frank).get(reverse("web:manage-change-request", args=[proposal.pk])).content.decode()
    assert "Session duration</strong>: PT4H → PT8H" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    for step in proposal.plan:
        assert step["text"][:1].upper() + step["text"][1:] in html
    assert "Approve and apply" in html and "csrfmiddlewaretoken" in html


def test_the_proposer_sees_withdraw_not_approve(client_for, dave, proposal):
    html = client_for(dave).get(reverse("web:manage-change-request", args=[proposal.pk])).content.decode()
    assert "Approve and apply" not in html and "Withdraw" in html
    answer = client_for(dave).post(reverse("web:manage-change-request-approve", args=[proposal.pk]))
    assert answer.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == ChangeStatus.PENDING


def test_approve_applies_it(client_for, frank, proposal, developers):
    client = client_for(frank)
    answer = client.post(
        reverse("web:manage-change-request-approve", args=[proposal.pk]), {"comment": "ok"}
    )
    assert answer.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decision_comment) == (ChangeStatus.APPROVED, "ok")
    developers.refresh_from_db()
    assert developers.session_duration == "PT8H"


def test_reject_asks_first_and_needs_a_reason(client_for, frank, proposal):
    client = client_for(frank)
    url = reverse("web:manage-change-request-reject", args=[proposal.pk])
    asked = client.get(url)
    assert asked.status_code == 200 and "Reject the change of Developers?" in asked.content.decode()
    assert ChangeRequest.objects.get().status == ChangeStatus.PENDING
    assert client.post(url, {"comment": ""}).status_code == 400
    assert client.post(url, {"comment": "not now"}).status_code == 302
    assert ChangeRequest.objects.get().status == ChangeStatus.REJECTED


def test_withdraw_asks_first(client_for, dave, proposal):
    client = client_for(dave)
    url = reverse("web:manage-change-request-withdraw", args=[proposal.pk])
    assert "Withdraw your change of Developers?" in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    assert ChangeRequest.objects.get().status == ChangeStatus.WITHDRAWN


def test_the_list_puts_pending_first_and_filters(client_for, dave, frank, developers, proposal):
    other = change_propose(
        actor=dave, action="update", access_group=developers, fields={"description": "x"}
    )
    from accessgroups.changes.services import change_withdraw

    change_withdraw(actor=dave, change_request=proposal)
    client = client_for(frank)
    page = client.get(reverse("web:manage-change-requests"))
    rows = [c.pk for c in page.context["page"].object_list]
    assert rows == [other.pk, proposal.pk]
    only = client.get(reverse("web:manage-change-requests"), {"status": "withdrawn"})
    assert [c.pk for c in only.context["page"].object_list] == [proposal.pk]
    assert ">Changes (1)</a>" in page.content.decode()  # the menu counts the pending ones


def test_non_admins_are_refused(client_for, bob, carol, proposal):
    for user in (bob, carol):
        assert client_for(user).get(reverse("web:manage-change-requests")).status_code == 403
        answer = client_for(user).post(reverse("web:manage-change-request-approve", args=[proposal.pk]))
        assert answer.status_code == 403
    assert ChangeRequest.objects.get().status == ChangeStatus.PENDING


def test_group_pages_propose_when_required(client_for, dave, developers, settings):
    settings.CHANGE_APPROVAL = "required"
    client = client_for(dave)
    answer = client.post(reverse("web:manage-group-archive", args=[developers.pk]), follow=True)
    change = ChangeRequest.objects.get()
    assert change.action == "archive"
    assert answer.redirect_chain[-1][0] == reverse("web:manage-change-request", args=[change.pk])
    assert "Change proposed; another admin must approve it" in answer.content.decode()
    assert not AccessGroup.objects.get(pk=developers.pk).is_archived


def test_the_new_group_form_proposes_when_required(client_for, dave, bob, sandbox, settings):
    settings.CHANGE_APPROVAL = "required"
    form = {
        "name": "Deploy",
        "description": "Deploys the app",
        "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "customer_managed_policies": "",
        "inline_policy": "",
        "session_duration": "PT2H",
        "requestable": "on",
        "max_duration_hours": "8",
        "applications_note": "",
        "accounts": [sandbox.account_id],
        "approvers": ["bob"],
    }
    client = client_for(dave)
    reviewed = client.post(reverse("web:manage-group-create"), {**form, "review": ""})
    assert "Propose change" in reviewed.content.decode()
    answer = client.post(
        reverse("web:manage-group-create"),
        {**form, "save": "", "plan_token": reviewed.context["plan_token"]},
    )
    change = ChangeRequest.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:manage-change-request", args=[change.pk])
    assert (change.action, change.group_name, change.changes["session_duration"]["to"]) == (
        "create",
        "Deploy",
        "PT2H",
    )
    assert not AccessGroup.objects.filter(name="Deploy").exists()
    bad = client.post(reverse("web:manage-group-create"), {**form, "session_duration": "PT13H"})
    assert bad.status_code == 400 and ChangeRequest.objects.count() == 1
