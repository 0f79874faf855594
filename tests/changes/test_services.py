"""Change requests through their services: proposing checks like the catalogue and stores
nothing else, another admin approves and the change is applied, the proposer withdraws,
a change of the group since the proposal supersedes it."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accessgroups.catalogue.services import access_group_update
from accessgroups.changes.services import (
    PROPOSER_CANNOT_APPROVE,
    change_approve,
    change_propose,
    change_reject,
    change_submit,
    change_withdraw,
)
from accessgroups.core.errors import Conflict, InvalidTransition
from accessgroups.models import AccessGroup, AuditEvent, ChangeRequest, ChangeStatus


@pytest.fixture
def frank(make_user):
    """A second admin: dave proposes, frank approves."""
    return make_user("frank", is_portal_admin=True)


def test_propose_an_update_changes_nothing_yet(dave, developers, requested_syncs):
    change = change_propose(
        actor=dave,
        action="update",
        access_group=developers,
        fields={"description": "Build and ship", "session_duration": "PT8H"},
        comment="longer sessions",
    )
    assert change.status == ChangeStatus.PENDING
    assert change.changes == {
        "description": {"from": "Build things", "to": "Build and ship"},
        "session_duration": {"from": "PT4H", "to": "PT8H"},
    }
    assert isinstance(change.plan, list) and isinstance(change.impact, dict)
    developers.refresh_from_db()
    assert developers.description == "Build things"
    assert requested_syncs == []
    event = AuditEvent.objects.get(action="change_request.proposed")
    assert event.data["changes"] == change.changes
    assert "plan" in event.data and event.message == "longer sessions"
    # The trial application left no trace: no access_group.updated event.
    assert not AuditEvent.objects.filter(action="access_group.updated").exists()


def test_propose_a_create_lists_what_it_sets(dave, bob, accounts, requested_syncs):
    change = change_propose(
        actor=dave,
        action="create",
        fields={"name": "Ops", "accounts": [accounts[0].account_id], "approvers": ["bob"]},
    )
    assert change.access_group is None
    assert change.changes["name"] == {"from": None, "to": "Ops"}
    assert change.changes["accounts"] == {"from": None, "to": [accounts[0].account_id]}
    assert not AccessGroup.objects.filter(name="Ops").exists()
    assert requested_syncs == []


def test_propose_an_archive(dave, developers):
    change = change_propose(actor=dave, action="archive", access_group=developers)
    assert change.changes == {"archived": {"from": False, "to": True}}
    developers.refresh_from_db()
    assert not developers.is_archived


def test_a_bad_proposal_names_the_field_and_stores_nothing(dave, developers):
    with pytest.raises(ValidationError) as refused:
        change_propose(
            actor=dave,
            action="update",
            access_group=developers,
            fields={"session_duration": "PT13H"},
        )
    assert "session_duration" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        change_propose(actor=dave, action="create", fields={"name": "Developers"})
    assert "name" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        change_propose(actor=dave, action="update", access_group=developers, fields={})
    assert "fields" in refused.value.message_dict
    assert not ChangeRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="change_request.").exists()


def test_only_admins_propose(bob, developers):
    with pytest.raises(PermissionDenied):
        change_propose(actor=bob, action="archive", access_group=developers)
    assert not ChangeRequest.objects.exists()


def test_the_proposer_cannot_approve(dave, developers):
    change = change_propose(actor=dave, action="archive", access_group=developers)
    with pytest.raises(PermissionDenied, match=PROPOSER_CANNOT_APPROVE):
        change_approve(actor=dave, change_request=change)
    change.refresh_from_db()
    assert change.status == ChangeStatus.PENDING


def test_another_admin_approves_and_it_is_applied(
    dave, frank, developers, django_capture_on_commit_callbacks
):
    change = change_propose(
        actor=dave, action="update", access_group=developers, fields={"session_duration": "PT8H"}
    )
    with django_capture_on_commit_callbacks() as sent:
        change_approve(actor=frank, change_request=change, comment="fine")
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED
    assert (change.decided_by, change.decision_comment) == (frank, "fine")
    developers.refresh_from_db()
    assert developers.session_duration == "PT8H"
    assert sent, "provisioning is sent after commit"
    assert AuditEvent.objects.filter(action="access_group.updated", actor=frank).exists()
    approved = AuditEvent.objects.get(action="change_request.approved")
    assert approved.data["proposed_by"] == "dave" and approved.data["changes"] == change.changes
    with pytest.raises(InvalidTransition):
        change_approve(actor=frank, change_request=change)


def test_an_approved_create_is_linked_to_its_group(dave, frank, bob):
    change = change_propose(actor=dave, action="create", fields={"name": "Ops", "approvers": ["bob"]})
    change_approve(actor=frank, change_request=change)
    change.refresh_from_db()
    assert change.access_group == AccessGroup.objects.get(name="Ops")


def test_reject_needs_a_reason_and_applies_nothing(dave, frank, developers):
    change = change_propose(actor=dave, action="archive", access_group=developers)
    with pytest.raises(ValidationError):
        change_reject(actor=frank, change_request=change, comment=" ")
    change_reject(actor=frank, change_request=change, comment="still in use")
    change.refresh_from_db()
    assert change.status == ChangeStatus.REJECTED
    developers.refresh_from_db()
    assert not developers.is_archived
    assert AuditEvent.objects.filter(action="change_request.rejected").count() == 1


def test_only_the_proposer_withdraws(dave, frank, developers):
    change = change_propose(actor=dave, action="archive", access_group=developers)
    with pytest.raises(PermissionDenied):
        change_withdraw(actor=frank, change_request=change)
    change_withdraw(actor=dave, change_request=change)
    change.refresh_from_db()
    assert change.status == ChangeStatus.WITHDRAWN
    with pytest.raises(InvalidTransition):
        change_approve(actor=frank, change_request=change)
    assert AuditEvent.objects.filter(action="change_request.withdrawn").count() == 1


def test_a_group_changed_since_supersedes_the_proposal(dave, frank, developers):
    change = change_propose(
        actor=dave, action="update", access_group=developers, fields={"session_duration": "PT8H"}
    )
    access_group_update(actor=frank, access_group=developers, description="Changed meanwhile")
    with pytest.raises(Conflict):
        change_approve(actor=frank, change_request=change)
    change.refresh_from_db()
    assert change.status == ChangeStatus.SUPERSEDED
    developers.refresh_from_db()
    assert developers.session_duration == "PT4H"
    assert AuditEvent.objects.filter(action="change_request.superseded").count() == 1


def test_a_name_taken_since_supersedes_a_create(dave, frank, bob):
    change = change_propose(actor=dave, action="create", fields={"name": "Ops", "approvers": ["bob"]})
    change_submit(actor=frank, action="create", fields={"name": "ops", "approvers": ["bob"]})
    with pytest.raises(Conflict):
        change_approve(actor=frank, change_request=change)
    change.refresh_from_db()
    assert change.status == ChangeStatus.SUPERSEDED


def test_applying_one_supersedes_the_others_of_the_group(dave, frank, developers):
    first = change_propose(
        actor=dave, action="update", access_group=developers, fields={"session_duration": "PT8H"}
    )
    second = change_propose(
        actor=dave, action="update", access_group=developers, fields={"description": "Other"}
    )
    change_approve(actor=frank, change_request=first)
    second.refresh_from_db()
    assert second.status == ChangeStatus.SUPERSEDED
    assert f"#{first.pk}" in second.decision_comment


def test_a_refused_application_leaves_it_pending(dave, frank, make_user, developers):
    erin = make_user("erin2", is_active=True)
    change = change_propose(
        actor=dave, action="update", access_group=developers, fields={"approvers": ["erin2"]}
    )
    erin.is_active = False
    erin.save()
    with pytest.raises(ValidationError) as refused:
        change_approve(actor=frank, change_request=change)
    assert "approvers" in refused.value.message_dict
    change.refresh_from_db()
    assert change.status == ChangeStatus.PENDING


def test_submit_applies_at_once_when_approval_is_off(dave, developers, settings):
    settings.CHANGE_APPROVAL = "off"
    result = change_submit(
        actor=dave, action="update", access_group=developers, fields={"description": "Now"}
    )
    assert isinstance(result, AccessGroup) and result.description == "Now"
    settings.CHANGE_APPROVAL = "required"
    result = change_submit(
        actor=dave, action="update", access_group=developers, fields={"description": "Later"}
    )
    assert isinstance(result, ChangeRequest) and result.status == ChangeStatus.PENDING
