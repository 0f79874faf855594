"""Approval by the portal itself, and high-risk groups whose approvals need a comment."""

import pytest
from django.core.exceptions import ValidationError

from accessgroups.catalogue.risk import risk_suggested_for as suggested_risk
from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.catalogue.services import access_group_create, access_group_update
from accessgroups.models import AuditEvent, Decision, Membership, RequestStatus
from tests.conftest import INLINE
from tests.syncs import run_enqueued


@pytest.fixture
def self_service(make_group, sandbox, bob):
    return make_group(
        "Sandbox", accounts=[sandbox], approvers=[bob], auto_approve=True, max_duration_hours=8
    )


def test_an_auto_approved_group_grants_at_once(
    alice, self_service, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        request = access_request_create(
            requester=alice, access_group=self_service, justification="try things", duration_hours=4
        )
    assert request.status == RequestStatus.APPROVED
    decision = Decision.objects.get(request=request)
    assert (decision.outcome, decision.decided_by, decision.access_group_version) == (
        "auto",
        None,
        1,
    )
    membership = Membership.objects.get(user=alice)
    assert membership.granted_by is None and membership.source == "request"
    event = AuditEvent.objects.get(action="request.auto_approved")
    assert event.actor is None and event.data["policy"] == "auto_approve"
    # Provisioned like any approval; the requester is told, the approvers are not asked.
    sent = run_enqueued(callbacks)
    assert ("membership_sync_task", (membership.pk,)) in sent
    assert "request_submitted_mail_task" not in {name for name, _ in sent}


def test_outside_the_groups_limits_nothing_is_approved(alice, self_service):
    with pytest.raises(ValidationError):
        access_request_create(
            requester=alice, access_group=self_service, justification="x", duration_hours=9
        )
    assert not Decision.objects.exists() and not Membership.objects.exists()


def test_an_extension_is_approved_at_once_too(alice, self_service, grant):
    grant(alice, self_service, duration_hours=2, expires_at=None)
    request = access_request_create(
        requester=alice, access_group=self_service, justification="more", duration_hours=8
    )
    assert request.status == RequestStatus.ACTIVE and request.is_extension


def test_auto_approve_is_refused_with_a_quorum_or_high_risk(dave, bob, erin, accounts):
    with pytest.raises(ValidationError) as refused:
        access_group_create(
            actor=dave,
            name="Both",
            approvers=["bob", "erin"],
            approvals_required=2,
            auto_approve=True,
        )
    assert "auto_approve" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        access_group_create(
            actor=dave,
            name="Admins",
            aws_managed_policies=["arn:aws:iam::aws:policy/AdministratorAccess"],
            auto_approve=True,
        )
    assert "high-risk" in refused.value.message_dict["auto_approve"][0]


@pytest.mark.parametrize(
    ("managed", "inline", "risk"),
    [
        (["arn:aws:iam::aws:policy/ReadOnlyAccess"], None, "normal"),
        (["arn:aws:iam::aws:policy/AdministratorAccess"], None, "high"),
        (["arn:aws:iam::aws:policy/IAMFullAccess"], None, "high"),
        (["arn:aws:iam::aws:policy/PowerUserAccess"], None, "high"),
        ([], INLINE, "normal"),
        (
            [],
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"},
            },
            "high",
        ),
        (
            [],
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:*", "*"], "Resource": "*"}],
            },
            "high",
        ),
        (
            [],
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
            },
            "normal",
        ),
    ],
)
def test_suggested_risk(managed, inline, risk):
    assert suggested_risk(managed, inline) == risk


def test_the_suggestion_is_the_default_and_the_admin_may_choose(dave, accounts):
    admins = access_group_create(
        actor=dave,
        name="Admins",
        aws_managed_policies=["arn:aws:iam::aws:policy/AdministratorAccess"],
        requestable=False,
    )
    assert admins.risk == "high"
    chosen = access_group_create(
        actor=dave,
        name="Chosen",
        aws_managed_policies=["arn:aws:iam::aws:policy/AdministratorAccess"],
        risk="low",
        requestable=False,
    )
    assert chosen.risk == "low"
    with pytest.raises(ValidationError) as refused:
        access_group_update(actor=dave, access_group=chosen, risk="extreme")
    assert "risk" in refused.value.message_dict


def test_a_high_risk_approval_needs_a_comment(alice, bob, make_group):
    group = make_group("Admins", approvers=[bob], risk="high")
    request = access_request_create(
        requester=alice, access_group=group, justification="incident 42"
    )
    with pytest.raises(ValidationError) as refused:
        access_request_approve(access_request=request, approver=bob, comment="  ")
    assert "comment" in refused.value.message_dict
    assert not Decision.objects.exists()
    approved = access_request_approve(
        access_request=request, approver=bob, comment="checked the incident"
    )
    assert approved.status == RequestStatus.APPROVED
    assert AuditEvent.objects.get(action="request.approved").data["risk"] == "high"


@pytest.mark.parametrize(
    "odd",
    [{"Statement": [None]}, {"Statement": "x"}, {"Statement": [{"Effect": "Allow", "Action": 3}]}, [], "text", None],
)
def test_the_suggestion_reads_any_document(odd):
    assert suggested_risk([], odd) == "normal"
