"""IDENTITY_SOURCE=external: users found by IDENTITY_MATCH, waited for, healed, never written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.core.dispatch import dispatch_overdue
from accessgroups.models import (
    AccessRequest,
    AuditEvent,
    Membership,
    ProvisioningStatus,
    RequestStatus,
    User,
)
from provisioning import tasks, user_match
from provisioning.errors import AwaitingIdentityProvider
from provisioning.users import user_sync
from tests.provisioning.conftest import run_task

pytestmark = pytest.mark.django_db(transaction=True)

USER_WRITES = ("CreateUser", "UpdateUser", "DeleteUser")


@pytest.fixture
def external(settings):
    settings.IDENTITY_SOURCE = "external"
    settings.IDENTITY_MATCH = "email"
    return settings


def scim_user(ic, email: str, **extra: Any) -> str:
    """A user as an identity provider's SCIM push makes it: the UserName is the address."""
    return ic.ids.create_user(
        IdentityStoreId=ic.store,
        UserName=email,
        DisplayName=email.partition("@")[0].capitalize(),
        Name={"GivenName": email.partition("@")[0].capitalize(), "FamilyName": "Scim"},
        Emails=[{"Value": email, "Type": "work", "Primary": True}],
        **extra,
    )["UserId"]


def no_user_writes(aws_calls) -> bool:
    return not any(aws_calls.count(op) for op in USER_WRITES)


def test_email_match_links_the_scim_user_with_one_look_up(ic, aws_calls, external, alice):
    scim_id = scim_user(ic, "alice@example.com")
    User.objects.filter(pk=alice.pk).update(onboarding_requested=True)

    assert run_task(tasks.user_onboard_task, alice.pk) == "in_sync"

    alice.refresh_from_db()
    assert alice.identity_center_user_id == scim_id
    assert alice.provisioning_status == ProvisioningStatus.IN_SYNC
    assert [op for op in aws_calls.operations() if op != "ListInstances"] == ["GetUserId"]
    assert aws_calls.named("GetUserId")[0]["AlternateIdentifier"] == {
        "UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "alice@example.com"}
    }
    assert aws_calls.writes() == []


def test_username_match(ic, aws_calls, external, make_user):
    external.IDENTITY_MATCH = "username"
    frank = make_user("frank@example.org", email="f.other@example.com")
    scim_id = scim_user(ic, "frank@example.org")

    run_task(tasks.user_onboard_task, frank.pk)

    frank.refresh_from_db()
    assert frank.identity_center_user_id == scim_id
    assert aws_calls.named("GetUserId")[0]["AlternateIdentifier"]["UniqueAttribute"] == {
        "AttributePath": "userName",
        "AttributeValue": "frank@example.org",
    }
    assert no_user_writes(aws_calls)


def test_external_id_match_reads_every_page_of_users(
    ic, aws_calls, external, register, make_user, monkeypatch
):
    external.IDENTITY_MATCH = "external_id"
    monkeypatch.setattr(user_match, "LIST_USERS_PAGE", 1)  # so that paging is exercised
    scim_user(ic, "someone@example.com")
    scim_id = scim_user(ic, "gina@example.com")
    scim_user(ic, "other@example.com")
    gina = make_user("gina", external_id="00u1gina")
    # The emulator keeps no ExternalIds: answer them as an identity provider's push sets them.
    external_ids = {scim_id: [{"Issuer": "https://idp.example.com/scim", "Id": "00u1gina"}]}

    def add_external_ids(parsed: dict, **_: Any) -> None:
        for user in parsed.get("Users", []):
            user["ExternalIds"] = external_ids.get(user["UserId"], [])

    register("after-call.identitystore.ListUsers", add_external_ids)

    run_task(tasks.user_onboard_task, gina.pk)

    gina.refresh_from_db()
    assert gina.identity_center_user_id == scim_id
    assert aws_calls.count("ListUsers") == 3  # one user per page, three users
    assert no_user_writes(aws_calls)


def test_a_user_not_yet_created_waits_with_words_then_is_found(ic, aws_calls, external, alice):
    result = user_sync(user_id=alice.pk)

    assert isinstance(result.error, AwaitingIdentityProvider)
    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PENDING
    assert alice.identity_center_user_id == ""
    assert "alice is not yet provisioned by your identity provider" in alice.last_error
    assert "email address alice@example.com (IDENTITY_MATCH=email)" in alice.last_error

    scim_id = scim_user(ic, "alice@example.com")  # SCIM catches up
    assert user_sync(user_id=alice.pk).outcome.value == "in_sync"

    alice.refresh_from_db()
    assert (alice.identity_center_user_id, alice.last_error) == (scim_id, "")
    assert no_user_writes(aws_calls)


def test_waiting_is_retried_every_few_minutes_and_never_given_up(ic, external, alice):
    User.objects.filter(pk=alice.pk).update(onboarding_requested=True)
    task = tasks.user_onboard_task
    task.push_request(retries=tasks.MAX_RETRIES + 5)
    try:
        # Called directly, Celery's retry re-raises the error instead of scheduling it.
        with pytest.raises(AwaitingIdentityProvider):
            task.run(alice.pk)
    finally:
        task.pop_request()

    alice.refresh_from_db()
    assert alice.provisioning_status == ProvisioningStatus.PENDING  # not failed
    cap = timedelta(seconds=tasks.IDENTITY_PROVIDER_BACKOFF_CAP_SECONDS)
    assert timezone.now() < alice.due_at <= timezone.now() + cap
    # Should the retry be lost (a broker restart), the dispatcher sends it once it is due,
    # and not before.
    interval = timedelta(minutes=5)
    assert "User" not in dispatch_overdue(now=timezone.now(), interval=interval).sent
    later = alice.due_at + timedelta(minutes=2)
    assert dispatch_overdue(now=later, interval=interval).sent["User"] == [alice.pk]


def test_the_membership_waits_for_the_user_then_proceeds(
    ic, aws_calls, external, make_group, sandbox, alice, bob
):
    group = make_group("ReadOnly", accounts=[sandbox], approvers=[bob])
    run_task(tasks.access_group_sync_task, group.pk)
    request = access_request_create(requester=alice, access_group=group, justification="on call")
    request = access_request_approve(access_request=request, approver=bob)

    with pytest.raises(AwaitingIdentityProvider):
        tasks.membership_sync_task.run(request.membership_id)

    membership = Membership.objects.get(pk=request.membership_id)
    assert membership.provisioning_status == ProvisioningStatus.PENDING
    assert "not yet provisioned by your identity provider" in membership.last_error
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.PROVISIONING

    scim_id = scim_user(ic, "alice@example.com")
    assert run_task(tasks.membership_sync_task, request.membership_id) == "in_sync"

    group.refresh_from_db()
    assert ic.members(group.identity_center_group_id) == [scim_id]
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.ACTIVE
    alice.refresh_from_db()
    assert alice.identity_center_user_id == scim_id
    assert no_user_writes(aws_calls)


def test_a_stale_id_is_healed_by_the_match_and_recorded(ic, aws_calls, external, alice):
    old = scim_user(ic, "alice@example.com")
    alice.store_identity_center_id(old)
    ic.delete_user(old)  # the provider deleted and re-created the person
    new = scim_user(ic, "alice@example.com")
    User.objects.filter(pk=alice.pk).update(provisioning_status=ProvisioningStatus.PENDING)

    assert user_sync(user_id=alice.pk).outcome.value == "in_sync"

    alice.refresh_from_db()
    assert alice.identity_center_user_id == new
    drift = AuditEvent.objects.get(action="provisioning.drift")
    assert drift.data == {"what": "user", "old_id": old, "new_id": new}
    assert no_user_writes(aws_calls)


def test_a_user_deleted_by_the_provider_is_waited_for_not_recreated(ic, aws_calls, external, alice):
    old = scim_user(ic, "alice@example.com")
    alice.store_identity_center_id(old)
    ic.delete_user(old)
    User.objects.filter(pk=alice.pk).update(provisioning_status=ProvisioningStatus.PENDING)

    result = user_sync(user_id=alice.pk)

    assert isinstance(result.error, AwaitingIdentityProvider)
    alice.refresh_from_db()
    assert alice.identity_center_user_id == ""
    assert "not yet provisioned by your identity provider" in alice.last_error
    assert AuditEvent.objects.get(action="provisioning.drift").data["new_id"] == ""
    assert no_user_writes(aws_calls)
    assert ic.users() == []


def test_names_are_not_needed_in_external_mode(ic, aws_calls, external, make_user):
    nameless = make_user("hugo", given_name="", family_name="")
    scim_id = scim_user(ic, "hugo@example.com")

    assert run_task(tasks.user_onboard_task, nameless.pk) == "in_sync"

    nameless.refresh_from_db()
    assert nameless.identity_center_user_id == scim_id
    assert no_user_writes(aws_calls)


def test_two_portal_users_never_share_one_identity_store_user(
    ic, aws_calls, external, make_user
):
    external.IDENTITY_MATCH = "username"
    scim_id = scim_user(ic, "ann@example.com")
    make_user("first", email="first@example.com").store_identity_center_id(scim_id)
    second = make_user("ann@example.com", email="second@example.com")

    assert run_task(tasks.user_onboard_task, second.pk) == "failed"

    second.refresh_from_db()
    assert second.identity_center_user_id == ""
    assert f"{scim_id} that IDENTITY_MATCH finds for them is already first's" in second.last_error
