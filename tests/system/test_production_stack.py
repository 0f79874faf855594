"""The production stack as real processes: the web and worker commands of docker-compose.yml
against PostgreSQL, Redis as the broker, and a moto server over HTTP standing in for AWS.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import boto3
import pytest
import requests

from provisioning.fake import FakeIdentityCenter
from tests.system.harness import Processes, wait_until
from tests.system.stack import BALANCER, Stack, start_stack

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(
    processes: Processes,
    postgres_url: str,
    redis_broker: dict[str, str],
    fake_identity_center: FakeIdentityCenter,
    tmp_path: Path,
) -> Stack:
    return start_stack(
        processes,
        database_url=postgres_url,
        fake=fake_identity_center,
        var_dir=tmp_path / "var",
        # The expiry sweep every second, so that a test can watch beat drive the worker.
        EXPIRY_SWEEP_SECONDS="1",
        # Behind a balancer, as docker-compose.yml's web is meant to run. gunicorn trusts
        # X-Forwarded-Proto itself from 127.0.0.1 only; in a container the balancer is
        # elsewhere, which this reproduces, so that the portal's own setting does the work.
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https",
        FORWARDED_ALLOW_IPS="192.0.2.1",
        **redis_broker,
    )


def unique(attribute: str, value: str) -> dict:
    return {"UniqueAttribute": {"AttributePath": attribute, "AttributeValue": value}}


EXPIRED_MEMBERSHIP = """
from datetime import timedelta
from django.utils import timezone
from accessgroups.models import AccessGroup, Membership, User
now = timezone.now()
user = User.objects.create(username="erin", email="erin@example.com", given_name="Erin", family_name="Example")
group = AccessGroup.objects.create(name="Expiring")
m = Membership.objects.create(
    user=user, access_group=group, source="admin", justification="test",
    granted_at=now - timedelta(hours=2), activated_at=now - timedelta(hours=2),
    duration_hours=1, expires_at=now - timedelta(hours=1),
)
print("membership", m.pk)
"""


def test_plain_http_is_sent_to_https_and_what_the_balancer_forwards_is_served(stack: Stack) -> None:
    url = f"{stack.base_url}/accounts/login/"
    plain = requests.get(url, allow_redirects=False, timeout=15)
    assert plain.status_code == 301
    assert plain.headers["Location"] == url.replace("http://", "https://", 1)

    forwarded = requests.get(url, headers=BALANCER, allow_redirects=False, timeout=15)
    assert forwarded.status_code == 200
    assert forwarded.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    policy = forwarded.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # The cookies it sets (the sign-in form's CSRF cookie) go back over HTTPS only.
    cookies = forwarded.raw.headers.getlist("Set-Cookie")
    assert any(c.startswith("csrftoken=") for c in cookies), cookies
    assert all("; Secure" in c for c in cookies), cookies


def test_gunicorn_serves_the_schema_and_beat_drives_the_worker_over_redis(stack: Stack) -> None:
    schema = requests.get(f"{stack.base_url}/api/schema/", headers=BALANCER, timeout=15)
    assert schema.status_code == 200
    assert "/api/v1/access-requests/" in schema.text

    output = stack.manage("expired-membership", "shell", "-c", EXPIRED_MEMBERSHIP)
    membership_id = int(re.search(r"membership (\d+)", output).group(1))
    # Beat sends memberships_expire_task through Redis; only the worker can run it.
    ended = wait_until(
        lambda: stack.sql(
            "SELECT end_reason FROM accessgroups_membership WHERE id = %s AND ended_at IS NOT NULL",
            membership_id,
        ),
        timeout=60,
        what="the worker to end the expired membership",
    )
    assert ended == [("expired",)]
    worker_log = (stack.processes.log_dir / "worker.log").read_text()
    assert "accessgroups.access.tasks.memberships_expire_task" in worker_log


def test_an_approved_request_becomes_an_identity_center_membership(stack: Stack) -> None:
    stack.manage(
        "createsuperuser",
        "createsuperuser",
        "--noinput",
        DJANGO_SUPERUSER_USERNAME="root",
        DJANGO_SUPERUSER_EMAIL="root@example.com",
        DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16),
    )
    admin = stack.token("root")
    for username, given in (("bob", "Bob"), ("alice", "Alice")):
        stack.api(
            "POST",
            "users/",
            admin,
            (201, 202),
            json={
                "username": username,
                "email": f"{username}@example.com",
                "given_name": given,
                "family_name": "Example",
            },
        )
    stack.api("POST", "accounts/", admin, 201, json={"account_id": "111122223333", "name": "sandbox"})
    group = stack.api(
        "POST",
        "access-groups/",
        admin,
        (201, 202),
        json={
            "name": "Developers",
            "description": "Build in the sandbox.",
            "accounts": ["111122223333"],
            "aws_managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"],
            "session_duration": "PT2H",
            "approvers": ["bob"],
            "requestable": True,
            "max_duration_hours": 8,
        },
    )
    alice, bob = stack.token("alice"), stack.token("bob")
    request = stack.api(
        "POST",
        "access-requests/",
        alice,
        201,
        json={"access_group": group["id"], "justification": "Debug the build.", "duration_hours": 4},
    )
    assert request["status"] == "pending"
    approved = stack.api("POST", f"access-requests/{request['id']}/approve/", bob, (200, 202), json={"comment": "ok"})
    assert approved["status"] in ("approved", "provisioning", "active")

    def active() -> dict | None:
        current = stack.api("GET", f"access-requests/{request['id']}/", alice, 200)
        assert current["status"] != "failed", current
        return current if current["status"] == "active" else None

    final = wait_until(active, timeout=120, what="the request to become active", interval=1)
    assert final["expires_at"]

    # What the moto server holds, read as a script would read AWS.
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=stack.fake.region
    )
    sso_admin = session.client("sso-admin", endpoint_url=stack.fake.endpoint_url)
    identitystore = session.client("identitystore", endpoint_url=stack.fake.endpoint_url)
    instance = sso_admin.list_instances()["Instances"][0]
    store = instance["IdentityStoreId"]
    group_id = identitystore.get_group_id(
        IdentityStoreId=store, AlternateIdentifier=unique("displayName", "Developers")
    )["GroupId"]
    alice_id = identitystore.get_user_id(
        IdentityStoreId=store, AlternateIdentifier=unique("userName", "alice")
    )["UserId"]
    memberships = identitystore.list_group_memberships(IdentityStoreId=store, GroupId=group_id)["GroupMemberships"]
    assert [m["MemberId"]["UserId"] for m in memberships] == [alice_id]

    assert stack.api("GET", f"access-groups/{group['id']}/", admin, 200)["provisioning_status"] == "in_sync"
    assignments = sso_admin.list_account_assignments(
        InstanceArn=instance["InstanceArn"],
        AccountId="111122223333",
        PermissionSetArn=stack.sql(
            "SELECT permission_set_arn FROM accessgroups_accessgroup WHERE id = %s", group["id"]
        )[0][0],
    )["AccountAssignments"]
    assert [(a["PrincipalType"], a["PrincipalId"]) for a in assignments] == [("GROUP", group_id)]
