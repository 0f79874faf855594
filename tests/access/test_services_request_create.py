import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accessgroups.access.services import access_request_create
from accessgroups.core.errors import Conflict
from accessgroups.models import AccessRequest, AuditEvent, RequestStatus


def test_request_is_pending_and_audited(alice, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="  on call  ")

    assert request.status == RequestStatus.PENDING
    assert request.justification == "on call"
    assert request.duration_hours is None
    event = AuditEvent.objects.get(action="request.created")
    assert event.actor == alice and event.object_id == str(request.pk)


def test_justification_is_required(alice, readonly):
    with pytest.raises(ValidationError) as exc:
        access_request_create(requester=alice, access_group=readonly, justification="   ")
    assert "justification" in exc.value.message_dict
    assert not AccessRequest.objects.exists()


def test_duration_is_required_within_the_maximum(alice, limited):
    with pytest.raises(ValidationError) as exc:
        access_request_create(requester=alice, access_group=limited, justification="deploy")
    assert "duration_hours" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        access_request_create(requester=alice, access_group=limited, justification="deploy", duration_hours=9)
    assert "at most 8 hours" in exc.value.message_dict["duration_hours"][0]
    assert not AccessRequest.objects.exists()

    request = access_request_create(requester=alice, access_group=limited, justification="deploy", duration_hours=8)
    assert request.duration_hours == 8


def test_zero_duration_is_refused(alice, readonly):
    with pytest.raises(ValidationError) as exc:
        access_request_create(requester=alice, access_group=readonly, justification="x", duration_hours=0)
    assert "duration_hours" in exc.value.message_dict


def test_one_open_request_per_group(alice, readonly):
    access_request_create(requester=alice, access_group=readonly, justification="first")
    with pytest.raises(Conflict):
        access_request_create(requester=alice, access_group=readonly, justification="second")
    assert AccessRequest.objects.count() == 1


def test_group_that_cannot_be_requested(alice, make_group):
    hidden = make_group("BreakGlass", requestable=False)
    with pytest.raises(ValidationError) as exc:
        access_request_create(requester=alice, access_group=hidden, justification="please")
    assert "access_group" in exc.value.message_dict


def test_inactive_user_cannot_request(make_user, readonly):
    gone = make_user("gone", is_active=False)
    with pytest.raises(PermissionDenied):
        access_request_create(requester=gone, access_group=readonly, justification="please")
