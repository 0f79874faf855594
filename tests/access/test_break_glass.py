"""Break-glass access: granted at once within its limits, reviewed afterwards by another."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accessgroups.access.break_glass import access_request_acknowledge
from accessgroups.access.selectors import break_glass_reviews_overdue
from accessgroups.access.services import (
    access_request_create,
    access_request_revoke,
    membership_activated,
)
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import AccessRequest, AuditEvent, Membership, RequestStatus

WHY = "production is down, incident 42"


@pytest.fixture
def oncall(make_group, sandbox, bob):
    return make_group(
        "OnCall", accounts=[sandbox], approvers=[bob], break_glass=True, max_duration_hours=8
    )


def _break_glass(user, group, **fields):
    fields.setdefault("justification", WHY)
    return access_request_create(requester=user, access_group=group, break_glass=True, **fields)


def test_access_is_granted_at_once_for_at_most_the_setting(alice, oncall, settings):
    settings.BREAK_GLASS_MAX_HOURS = 4
    request = _break_glass(alice, oncall)
    assert request.status == RequestStatus.APPROVED and request.break_glass
    assert request.duration_hours == 4
    membership = request.membership
    assert membership.source == "break_glass" and membership.granted_by is None
    assert not request.decisions.exists()
    event = AuditEvent.objects.get(action="request.break_glass")
    assert event.actor == alice and event.message == WHY
    assert AuditEvent.objects.get(action="request.created").data["break_glass"] is True


def test_the_groups_cap_wins_when_lower(alice, make_group, settings):
    settings.BREAK_GLASS_MAX_HOURS = 4
    group = make_group("Tight", break_glass=True, max_duration_hours=2)
    assert _break_glass(alice, group).duration_hours == 2
    with pytest.raises(ValidationError) as refused:
        _break_glass(alice, make_group("Other", break_glass=True), duration_hours=5)
    assert "at most 4 hours" in refused.value.message_dict["duration_hours"][0]


def test_refused_on_a_group_without_it(alice, readonly):
    with pytest.raises(PermissionDenied):
        _break_glass(alice, readonly)
    assert not AccessRequest.objects.exists()


def test_a_short_justification_is_refused(alice, oncall):
    with pytest.raises(ValidationError) as refused:
        _break_glass(alice, oncall, justification="prod down, hurry")
    assert "20 characters" in refused.value.message_dict["justification"][0]
    assert not Membership.objects.exists()


def test_refused_when_the_access_is_held_already(alice, oncall, grant):
    grant(alice, oncall)
    with pytest.raises(ValidationError) as refused:
        _break_glass(alice, oncall)
    assert "break_glass" in refused.value.message_dict


def test_an_approver_acknowledges_never_the_requester(alice, bob, oncall):
    request = _break_glass(alice, oncall)
    with pytest.raises(PermissionDenied):
        access_request_acknowledge(access_request=request, reviewer=alice)
    reviewed = access_request_acknowledge(
        access_request=request, reviewer=bob, comment="saw the incident"
    )
    assert reviewed.break_glass_review_outcome == "acknowledged"
    assert reviewed.break_glass_reviewed_by == bob
    event = AuditEvent.objects.get(action="request.break_glass_acknowledged")
    assert event.actor == bob and event.data == {"overdue": False}
    with pytest.raises(InvalidTransition, match="already acknowledged"):
        access_request_acknowledge(access_request=request, reviewer=bob)


def test_acknowledging_an_ordinary_request_is_refused(alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    with pytest.raises(InvalidTransition):
        access_request_acknowledge(access_request=request, reviewer=bob)


def test_an_approvers_revocation_is_the_review(alice, bob, oncall):
    request = _break_glass(alice, oncall)
    membership_activated(membership_id=request.membership_id)
    revoked = access_request_revoke(access_request=request, user=bob, comment="not an emergency")
    assert revoked.status == RequestStatus.REVOKED
    assert (
        revoked.break_glass_review_outcome == "revoked" and revoked.break_glass_reviewed_by == bob
    )
    assert Membership.objects.get().ended_at is not None
    assert AuditEvent.objects.filter(action="request.break_glass_revoked", actor=bob).count() == 1


def test_revoking_after_the_access_expired_records_the_review(alice, bob, oncall):
    request = _break_glass(alice, oncall)
    Membership.objects.update(ended_at=timezone.now())
    AccessRequest.objects.update(status=RequestStatus.EXPIRED)
    revoked = access_request_revoke(access_request=request, user=bob)
    assert revoked.status == RequestStatus.EXPIRED
    assert revoked.break_glass_review_outcome == "revoked"


def test_the_requester_giving_it_up_is_no_review(alice, oncall):
    request = _break_glass(alice, oncall)
    membership_activated(membership_id=request.membership_id)
    given_up = access_request_revoke(access_request=request, user=alice)
    assert given_up.status == RequestStatus.REVOKED
    assert given_up.break_glass_review_pending


def test_overdue_reviews(alice, bob, oncall, settings):
    settings.BREAK_GLASS_REVIEW_HOURS = 24
    request = _break_glass(alice, oncall)
    now = timezone.now()
    assert not break_glass_reviews_overdue(now=now).exists()
    later = now + timedelta(hours=25)
    assert list(break_glass_reviews_overdue(now=later)) == [request]
    AccessRequest.objects.filter(pk=request.pk).update(break_glass_alerted_at=later)
    assert not break_glass_reviews_overdue(now=later + timedelta(hours=23)).exists()
    assert list(break_glass_reviews_overdue(now=later + timedelta(hours=24))) == [request]
    access_request_acknowledge(access_request=request, reviewer=bob)
    assert not break_glass_reviews_overdue(now=later + timedelta(days=5)).exists()
