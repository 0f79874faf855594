"""IDENTITY_SOURCE=external against the moto *server* over HTTP, as against AWS.

The identity store is filled the way an identity provider's SCIM push fills it, with boto3
and before the portal does anything: users whose UserName is their email address, and
groups of the provider's own. The portal then runs request -> approve -> active -> revoke
without ever creating, updating or deleting a user, and links a person the provider
creates only after the portal first looked for them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    access_request_revoke,
)
from accessgroups.models import AccessGroup, AccessRequest, Membership, RequestStatus, User
from provisioning import aws, tasks
from provisioning.errors import AwaitingIdentityProvider
from tests.provisioning.conftest import run_task
from tests.provisioning.test_drift_server import ServerState, server  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

USER_WRITES = {"CreateUser", "UpdateUser", "DeleteUser"}


class Operations:
    """Every identity store and sso-admin operation the portal's own clients call."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        with self.lock:
            self.names.append(event_name.rsplit(".", 1)[-1])


@pytest.fixture
def operations(server) -> Iterator[Operations]:  # noqa: F811
    recorder = Operations()
    aws.register_event("before-parameter-build", recorder)
    yield recorder
    aws.unregister_event("before-parameter-build", recorder)


def scim_push_user(state: ServerState, email: str) -> str:
    local = email.partition("@")[0]
    return state.ids.create_user(
        IdentityStoreId=state.store,
        UserName=email,
        DisplayName=local.capitalize(),
        Name={"GivenName": local.capitalize(), "FamilyName": "Scim"},
        Emails=[{"Value": email, "Type": "work", "Primary": True}],
    )["UserId"]


def scim_push_group(state: ServerState, name: str, members: list[str]) -> str:
    group_id = state.ids.create_group(IdentityStoreId=state.store, DisplayName=name)["GroupId"]
    for user_id in members:
        state.add_member(group_id, user_id)
    return group_id


@pytest.fixture
def scim_store(server, settings):  # noqa: F811
    """The provider's users and groups, there before the portal starts working."""
    alice_id = scim_push_user(server, "alice@example.com")
    bob_id = scim_push_user(server, "bob@example.com")
    engineering = scim_push_group(server, "Engineering", [alice_id, bob_id])
    settings.IDENTITY_SOURCE, settings.IDENTITY_MATCH = "external", "email"
    return {"alice": alice_id, "bob": bob_id, "Engineering": engineering}


def test_request_approve_active_revoke_without_creating_a_user(
    server, scim_store, operations, enqueued, make_group, make_account, alice, bob  # noqa: F811
):
    group = make_group("ReadOnly", accounts=[make_account("sandbox")], approvers=[bob])
    assert run_task(tasks.access_group_sync_task, group.pk) == "in_sync"
    group.refresh_from_db()

    request = access_request_create(requester=alice, access_group=group, justification="on call")
    request = access_request_approve(access_request=request, approver=bob)
    assert run_task(tasks.membership_sync_task, request.membership_id) == "in_sync"

    request.refresh_from_db()
    alice.refresh_from_db()
    assert request.status == RequestStatus.ACTIVE
    assert alice.identity_center_user_id == scim_store["alice"]
    assert server.members(group.identity_center_group_id) == [scim_store["alice"]]

    request = access_request_revoke(access_request=request, user=bob)
    assert run_task(tasks.membership_sync_task, request.membership_id) == "in_sync"

    assert server.members(group.identity_center_group_id) == []
    assert Membership.objects.get(pk=request.membership_id).ended_at is not None
    # The provider's own users and groups are as it left them.
    assert {"GetUserId", "CreateGroupMembership", "DeleteGroupMembership"} <= set(operations.names)
    assert operations.names.count("CreateUser") == 0
    assert USER_WRITES.isdisjoint(operations.names)
    assert sorted(u["UserName"] for u in server.users()) == ["alice@example.com", "bob@example.com"]
    assert sorted(server.members(scim_store["Engineering"])) == sorted(
        [scim_store["alice"], scim_store["bob"]]
    )


def test_a_person_pushed_after_the_first_look_is_linked_then(
    server, scim_store, operations, enqueued, make_group, make_account, make_user, bob  # noqa: F811
):
    carol = make_user("carol")
    group = make_group("ReadOnly", accounts=[make_account("sandbox")], approvers=[bob])
    run_task(tasks.access_group_sync_task, group.pk)
    request = access_request_create(requester=carol, access_group=group, justification="new hire")
    request = access_request_approve(access_request=request, approver=bob)

    # Called directly, the task's retry re-raises the error instead of scheduling it.
    with pytest.raises(AwaitingIdentityProvider):
        tasks.membership_sync_task.run(request.membership_id)
    membership = Membership.objects.get(pk=request.membership_id)
    assert "carol is not yet provisioned by your identity provider" in membership.last_error
    assert "carol@example.com" in membership.last_error
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.PROVISIONING

    carol_id = scim_push_user(server, "carol@example.com")
    assert run_task(tasks.membership_sync_task, request.membership_id) == "in_sync"

    assert User.objects.get(pk=carol.pk).identity_center_user_id == carol_id
    group_id = AccessGroup.objects.get(pk=group.pk).identity_center_group_id
    assert server.members(group_id) == [carol_id]
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.ACTIVE
    assert USER_WRITES.isdisjoint(operations.names)
