"""Onboarding portal users into the identity store."""

from __future__ import annotations

import pytest

from accessgroups.models import AuditEvent, ProvisioningStatus, User
from provisioning import tasks
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_onboarding_creates_the_user_with_names_and_work_email(ic, aws_calls, alice):
    assert run_task(tasks.user_onboard_task, alice.pk) == "in_sync"

    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.IN_SYNC
    assert alice.last_error == ""
    assert alice.synced_generation == alice.generation
    assert alice.identity_center_user_id == ic.user_id("alice")
    created = ic.user(alice.identity_center_user_id)
    assert created["UserName"] == "alice"
    assert created["DisplayName"] == "Alice Example"
    assert created["Name"]["GivenName"] == "Alice"
    assert created["Name"]["FamilyName"] == "Example"
    assert created["Emails"] == [{"Value": "alice@example.com", "Type": "work", "Primary": True}]
    # Looked up before created, and the write is audited with the id it produced.
    assert aws_calls.operations().index("GetUserId") < aws_calls.operations().index("CreateUser")
    event = AuditEvent.objects.get(action="identity_center.CreateUser")
    assert event.object_id == str(alice.pk)
    assert event.subject_id == alice.pk
    assert event.data["UserId"] == alice.identity_center_user_id
    assert event.data["UserName"] == "alice"


def test_onboarding_finds_an_existing_user_by_username(ic, aws_calls, alice):
    existing = ic.create_user("alice")

    run_task(tasks.user_onboard_task, alice.pk)

    alice.refresh_from_db()
    assert alice.identity_center_user_id == existing
    assert alice.provisioning_status == ProvisioningStatus.IN_SYNC
    assert aws_calls.writes() == []
    assert len([u for u in ic.users() if u["UserName"] == "alice"]) == 1


def test_missing_family_name_fails_with_words_and_calls_nothing_to_write(ic, aws_calls, make_user):
    frank = make_user("frank", family_name="")

    assert run_task(tasks.user_onboard_task, frank.pk) == "failed"

    frank.refresh_from_db()
    assert frank.provisioning_status == ProvisioningStatus.FAILED
    assert "frank cannot be onboarded" in frank.last_error
    assert "family name is missing" in frank.last_error
    assert frank.identity_center_user_id == ""
    assert aws_calls.writes() == []
    assert ic.user_id("frank") is None


def test_missing_email_and_given_name_are_both_named(ic, make_user):
    gina = make_user("gina", given_name="", email="")

    run_task(tasks.user_onboard_task, gina.pk)

    gina.refresh_from_db()
    assert "email address and given name are missing" in gina.last_error


def test_rerun_after_success_makes_no_aws_call(ic, aws_calls, alice):
    run_task(tasks.user_onboard_task, alice.pk)
    aws_calls.clear()

    assert run_task(tasks.user_onboard_task, alice.pk) == "skipped"

    assert aws_calls.calls == []


def test_a_pending_rerun_of_an_onboarded_user_checks_but_writes_nothing(ic, aws_calls, alice):
    run_task(tasks.user_onboard_task, alice.pk)
    User.objects.filter(pk=alice.pk).update(
        provisioning_status=ProvisioningStatus.PENDING, generation=5
    )
    aws_calls.clear()

    run_task(tasks.user_onboard_task, alice.pk)

    assert aws_calls.operations() == ["DescribeUser"]
    alice.refresh_from_db()
    assert (alice.provisioning_status, alice.synced_generation) == (ProvisioningStatus.IN_SYNC, 5)


def test_stale_user_id_is_healed_and_recorded_as_drift(ic, aws_calls, alice):
    run_task(tasks.user_onboard_task, alice.pk)
    alice.refresh_from_db()
    old = alice.identity_center_user_id
    ic.delete_user(old)
    User.objects.filter(pk=alice.pk).update(
        provisioning_status=ProvisioningStatus.PENDING, generation=2
    )

    run_task(tasks.user_onboard_task, alice.pk)

    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.IN_SYNC
    assert alice.identity_center_user_id not in ("", old)
    assert alice.identity_center_user_id == ic.user_id("alice")
    drift = AuditEvent.objects.get(action="provisioning.drift")
    assert drift.data == {"what": "user", "old_id": old, "new_id": alice.identity_center_user_id}
    assert aws_calls.count("CreateUser") == 2


def test_failed_user_is_not_retried_until_an_admin_asks(ic, aws_calls, make_user, dave):
    from accessgroups.access.services import provisioning_retry

    frank = make_user("frank", family_name="")
    run_task(tasks.user_onboard_task, frank.pk)
    aws_calls.clear()

    assert run_task(tasks.user_onboard_task, frank.pk) == "skipped"
    assert aws_calls.calls == []

    User.objects.filter(pk=frank.pk).update(family_name="Fixed")
    frank.refresh_from_db()
    provisioning_retry(obj=frank, actor=dave)
    assert run_task(tasks.user_onboard_task, frank.pk) == "in_sync"
    assert ic.user_id("frank")
