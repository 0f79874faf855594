"""Accounts and access groups through the configuration services: creating with every
policy kind, refusals by the field, dated versions on update, archiving. The ``accounts``
and ``developers`` fixtures are in tests/conftest.py (tests/identity uses them too)."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accessgroups.access.services import access_request_create, membership_grant
from accessgroups.catalogue.services import (
    access_group_archive,
    access_group_create,
    access_group_update,
    account_create,
)
from accessgroups.core.errors import InvalidTransition
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    AuditEvent,
    EndReason,
    RequestStatus,
)


def test_create_with_every_policy_kind(developers, django_capture_on_commit_callbacks, dave):
    group = developers
    assert group.provisioning_status == "pending"
    assert sorted(a.name for a in group.current_accounts()) == ["sandbox", "staging"]
    kinds = sorted(p.kind for p in group.current_policies())
    assert kinds == ["aws_managed", "customer_managed", "inline"]
    assert list(group.approvers.values_list("username", flat=True)) == ["bob"]
    assert AuditEvent.objects.filter(action="access_group.created", access_group=group).exists()
    with django_capture_on_commit_callbacks() as callbacks:
        access_group_create(actor=dave, name="Other", approvers=["bob"])
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "has space"),
        ("name", "x" * 33),
        ("name", "ÄccessGroup"),
        ("session_duration", "PT30M"),
        ("session_duration", "PT13H"),
        ("session_duration", "one hour"),
        ("aws_managed_policies", ["arn:aws:iam::123456789012:policy/Mine"]),
        ("aws_managed_policies", ["ReadOnlyAccess"]),
        ("customer_managed_policies", [{"name": "bad name", "path": "/"}]),
        ("customer_managed_policies", [{"name": "ok", "path": "no-slashes"}]),
        ("inline_policy", {"Statement": []}),
        ("inline_policy", {"Version": "2012-10-17", "Statement": [{"Sid": "x" * 40_000}]}),
        ("inline_policy", "not json"),
        ("accounts", ["12345"]),
        ("accounts", ["999999999999"]),
        ("approvers", ["nobody"]),
        ("max_duration_hours", 0),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(dave, field, value):
    kwargs = {"name": "Valid", field: value} if field != "name" else {"name": value}
    with pytest.raises(ValidationError) as exc:
        access_group_create(actor=dave, **kwargs)
    assert field in exc.value.message_dict
    assert not AccessGroup.objects.exists()
    assert not AuditEvent.objects.exists()


def test_inline_policy_counts_characters_other_than_whitespace(dave):
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "a" * 10_300}]}
    assert len(json.dumps(big)) < 32_768
    with pytest.raises(ValidationError) as exc:
        access_group_create(actor=dave, name="Big", inline_policy=big)
    assert "characters other than white space" in exc.value.message_dict["inline_policy"][0]


def test_policy_quota_from_settings(dave, settings):
    arns = [f"arn:aws:iam::aws:policy/Policy{i}" for i in range(21)]
    with pytest.raises(ValidationError) as exc:
        access_group_create(actor=dave, name="TooMany", aws_managed_policies=arns, requestable=False)
    assert "at most 20" in exc.value.message_dict["aws_managed_policies"][0]
    settings.PERMISSION_SET_MANAGED_POLICY_QUOTA = 25
    access_group_create(actor=dave, name="TooMany", aws_managed_policies=arns, requestable=False)


def test_names_are_unique_among_live_groups(dave, developers):
    with pytest.raises(ValidationError) as exc:
        access_group_create(actor=dave, name="developers")
    assert "name" in exc.value.message_dict


def test_only_admins_configure(bob, carol, accounts):
    for user in (bob, carol):
        with pytest.raises(PermissionDenied):
            access_group_create(actor=user, name="Nope")
        with pytest.raises(PermissionDenied):
            account_create(actor=user, account_id="210987654321", name="x")
    assert not AccessGroup.objects.exists()


def test_update_keeps_dated_versions(dave, developers, accounts):
    group = access_group_update(
        actor=dave,
        access_group=developers,
        accounts=[accounts[1].account_id, accounts[2].account_id],
        aws_managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        customer_managed_policies=[],
        inline_policy=None,
        session_duration="PT2H",
    )
    assert sorted(a.name for a in group.current_accounts()) == ["production", "staging"]
    ended = AccessGroupAccount.objects.get(access_group=group, account=accounts[0])
    assert ended.valid_to is not None and ended.provisioning_status == "pending"
    assert [p.arn for p in group.current_policies()] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert AccessGroupPolicy.objects.filter(access_group=group, valid_to__isnull=False).count() == 3
    assert group.generation == 2 and group.session_duration == "PT2H"
    event = AuditEvent.objects.get(action="access_group.updated")
    assert event.data["accounts"] == {"added": [accounts[2].account_id], "removed": [accounts[0].account_id]}


def test_name_cannot_change(dave, developers):
    with pytest.raises(ValidationError) as exc:
        access_group_update(actor=dave, access_group=developers, name="Renamed")
    assert "name" in exc.value.message_dict


def test_no_change_is_no_new_generation(dave, developers):
    group = access_group_update(actor=dave, access_group=developers, description="Build things")
    assert group.generation == 1
    assert not AuditEvent.objects.filter(action="access_group.updated").exists()


def test_archive_cancels_ends_and_keeps_rows(dave, alice, erin, developers):
    pending = access_request_create(requester=alice, access_group=developers, justification="x", duration_hours=2)
    membership = membership_grant(user=erin, access_group=developers, granted_by=dave, justification="y")

    group = access_group_archive(actor=dave, access_group=developers)

    assert group.archived_at is not None and not group.requestable
    pending.refresh_from_db()
    membership.refresh_from_db()
    assert pending.status == RequestStatus.CANCELLED
    assert membership.end_reason == EndReason.ARCHIVED
    assert not group.current_accounts().exists()
    assert AccessGroupAccount.objects.filter(access_group=group).count() == 2
    with pytest.raises(InvalidTransition):
        access_group_archive(actor=dave, access_group=group)
    # The name is free again for a new group.
    access_group_create(actor=dave, name="Developers", approvers=["bob"])


def test_account_create_validates(dave):
    with pytest.raises(ValidationError) as exc:
        account_create(actor=dave, account_id="12345678901a", name="x")
    assert "account_id" in exc.value.message_dict
    account = account_create(actor=dave, account_id="210987654321", name="audit")
    assert account.source == "manual"
    with pytest.raises(ValidationError):
        account_create(actor=dave, account_id="210987654321", name="again")
