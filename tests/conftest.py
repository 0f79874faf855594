"""Shared personas and fixtures.

alice asks for access, bob approves for the groups he is named on, carol audits,
dave administers, erin is a second approver. AWS is reached only through moto.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from accessgroups.models import AuditEvent, Membership

# Browser fixtures (browser, page, new_page, login, client_for) for tests/web and others.
pytest_plugins = ["tests.browser"]

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def make_user(db):
    from accessgroups.models import User

    def make(username: str, **fields) -> User:
        fields.setdefault("email", f"{username}@example.com")
        fields.setdefault("given_name", username.capitalize())
        fields.setdefault("family_name", "Example")
        password = fields.pop("password", "correct horse battery staple")
        user = User(username=username, **fields)
        user.set_password(password)
        user.save()
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol", is_auditor=True)


@pytest.fixture
def dave(make_user):
    return make_user("dave", is_portal_admin=True)


@pytest.fixture
def erin(make_user):
    return make_user("erin")


@pytest.fixture
def make_account(db):
    from accessgroups.models import Account

    counter = iter(range(1, 10_000))

    def make(name: str | None = None, **fields) -> Account:
        n = next(counter)
        fields.setdefault("account_id", f"{100000000000 + n:012d}")
        return Account.objects.create(name=name or f"account-{n}", **fields)

    return make


@pytest.fixture
def make_group(db):
    """An access group built directly as rows (no workflow, no provisioning)."""
    from accessgroups.models import AccessGroup, AccessGroupAccount, AccessGroupPolicy, PolicyKind

    def make(name: str, *, accounts=(), approvers=(), policies=("arn:aws:iam::aws:policy/ReadOnlyAccess",), **fields):
        group = AccessGroup.objects.create(name=name, **fields)
        for account in accounts:
            AccessGroupAccount.objects.create(access_group=group, account=account)
        for arn in policies:
            AccessGroupPolicy.objects.create(access_group=group, kind=PolicyKind.AWS_MANAGED, arn=arn)
        group.approvers.set(approvers)
        return group

    return make


@pytest.fixture
def sandbox(make_account):
    return make_account("sandbox")


@pytest.fixture
def readonly(make_group, sandbox, bob):
    """A requestable group that bob approves, without a maximum duration."""
    return make_group("ReadOnly", accounts=[sandbox], approvers=[bob])


@pytest.fixture
def limited(make_group, sandbox, bob):
    """A group whose grants last at most 8 hours."""
    return make_group("Developers", accounts=[sandbox], approvers=[bob], max_duration_hours=8)


@pytest.fixture
def grant(db):
    """grant(user, group) -> an active membership, as if provisioned already."""
    from datetime import timedelta

    from django.utils import timezone

    from accessgroups.models import Membership, MembershipSource

    def make(user, group, **fields) -> Membership:
        now = timezone.now()
        fields.setdefault("granted_at", now - timedelta(days=1))
        fields.setdefault("activated_at", now - timedelta(days=1))
        return Membership.objects.create(
            user=user, access_group=group, source=MembershipSource.ADMIN, **fields
        )

    return make


@pytest.fixture
def in_a_week():
    """A review deadline a week from now."""
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(days=7)


INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}


@pytest.fixture
def accounts(make_account):
    """sandbox, staging and production, for the configuration services' tests."""
    return [make_account("sandbox"), make_account("staging"), make_account("production")]


@pytest.fixture
def developers(dave, bob, accounts):
    """An access group made by dave through access_group_create, with every policy kind."""
    from accessgroups.catalogue.services import access_group_create

    return access_group_create(
        actor=dave,
        name="Developers",
        description="Build things",
        accounts=[accounts[0].account_id, accounts[1].account_id],
        aws_managed_policies=["arn:aws:iam::aws:policy/PowerUserAccess"],
        customer_managed_policies=[{"name": "deploy", "path": "/team/"}],
        inline_policy=INLINE,
        session_duration="PT4H",
        approvers=["bob"],
        max_duration_hours=8,
    )


@pytest.fixture
def chain(db, alice) -> list[AuditEvent]:
    """Five events written the way the portal writes them."""
    from accessgroups.core.audit import audit_record

    return [
        audit_record(action="test.event", actor=alice, message=f"event {n}", data={"n": n})
        for n in range(1, 6)
    ]


@pytest.fixture
def moto_identity_center(settings, monkeypatch):
    """moto in-process as Identity Center (region us-east-1), the portal's AWS caches reset.

    Limits are in-process, under a key prefix of this test's own.
    """
    from moto import mock_aws

    from provisioning import aws

    # An endpoint in the environment (e.g. from `make run`) would bypass the in-process mock.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings.AWS_ENDPOINT_URL = ""
    settings.AWS_REGION = "us-east-1"
    settings.IDENTITY_CENTER_INSTANCE_ARN = ""
    settings.IDENTITY_STORE_ID = ""
    settings.MEMBER_ACCOUNT_ROLE_NAME = ""
    settings.PROVISIONING_REDIS_URL = ""
    settings.PROVISIONING_LIMITS_PREFIX = f"test:{uuid.uuid4().hex}:"
    with mock_aws():
        aws.reset()
        yield
        aws.reset()


class IdentityStore:
    """Reads what moto's identity store holds, with a client of the test's own."""

    def __init__(self) -> None:
        import boto3

        sso = boto3.client("sso-admin", region_name="us-east-1")
        self.store = sso.list_instances()["Instances"][0]["IdentityStoreId"]
        self.ids = boto3.client("identitystore", region_name="us-east-1")

    def members(self, group_name: str) -> list[str]:
        """Usernames in the Identity Center group of that name."""
        group_id = self.ids.get_group_id(
            IdentityStoreId=self.store,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": group_name}
            },
        )["GroupId"]
        found = self.ids.list_group_memberships(IdentityStoreId=self.store, GroupId=group_id)
        return [
            self.ids.describe_user(IdentityStoreId=self.store, UserId=m["MemberId"]["UserId"])[
                "UserName"
            ]
            for m in found["GroupMemberships"]
        ]


@pytest.fixture
def identity_center(moto_identity_center) -> IdentityStore:
    """moto as Identity Center, and a reader of its identity store."""
    return IdentityStore()


@pytest.fixture
def requested_syncs():
    """What the sync port sends while the test runs: (task name, args), no broker reached."""
    from tests.syncs import captured_syncs

    with captured_syncs() as sent:
        yield sent


@pytest.fixture
def tasks_run_on_commit():
    """Tasks sent after commit run at once in this process instead of going to a broker."""
    from portal.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def token_for(db):
    """token_for(user) -> the key of a personal API token of that user, sent as
    ``Authorization: Token KEY``. The token is a row like any other (hashed key, 30 days),
    checked by the portal's own authentication on every call; like make_user, it is built
    directly, so the audit log holds only what a test does. One key per user per test."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    from accessgroups.auth.tokens import DEFAULT_DAYS, KEY_BYTES, PREFIX_LENGTH, hash_key
    from accessgroups.models import ApiToken

    keys: dict[int, str] = {}

    def make(user) -> str:
        if user.pk not in keys:
            key = secrets.token_hex(KEY_BYTES)
            now = timezone.now()
            ApiToken.objects.create(
                user=user,
                name="tests",
                prefix=key[:PREFIX_LENGTH],
                key_hash=hash_key(key),
                expires_at=now + timedelta(days=DEFAULT_DAYS),
                # As if just used: a fresh token's first call notes its use (one write,
                # then none for a minute), which would otherwise land in whichever call
                # a test measures first.
                last_used_at=now,
            )
            keys[user.pk] = key
        return keys[user.pk]

    return make


@pytest.fixture
def api(token_for):
    """api(user) -> a REST client sending a personal API token of that user (token_for);
    api(None) -> anonymous."""
    from rest_framework.test import APIClient

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything that drives Chromium is slow: PYTEST_ARGS="-m 'not slow'" is the quick run.
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        defs = fixtures.name2fixturedefs.get("browser", ()) if fixtures else ()
        # The Chromium fixture of tests/browser.py, not a test client some module calls browser.
        if defs and defs[-1].func.__module__ == "tests.browser":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _throwaway_cache_emptied():
    """Every test starts with the limits untouched: tests/settings.py's cache is emptied."""
    yield
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    # Only the throwaway one: clear() on Redis would empty the whole database.
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


SHARED_CACHE_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def shared_cache(settings):
    """The portal's cache as production builds it, on the machine's Redis (db 15), under a
    key prefix of this test's own; its keys are deleted afterwards (only ours).

    Skipped without Redis on a developer's machine, failed when CI is set.
    """
    import redis

    from portal.env import cache_from_url

    client = redis.Redis.from_url(SHARED_CACHE_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required on CI, not reachable at {SHARED_CACHE_REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {SHARED_CACHE_REDIS_URL}")
    prefix = f"test-limits-{uuid.uuid4().hex}"
    settings.CACHES = {"default": cache_from_url(SHARED_CACHE_REDIS_URL, prefix)}
    yield settings.CACHES["default"]
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


# --- Identity Center groups as a refresh would have cached them (approvers by group) --------


@pytest.fixture
def linked(db):
    def link(user, ic_user_id: str | None = None):
        user.identity_center_user_id = ic_user_id or f"ic-{user.username}-{uuid.uuid4().hex[:6]}"
        user.save(update_fields=["identity_center_user_id"])
        return user

    return link


@pytest.fixture
def ic_group(db):
    from django.utils import timezone

    from accessgroups.models import IdentityCenterGroup, IdentityCenterGroupMember

    def make(name: str, *, members=(), member_ids=()):
        group = IdentityCenterGroup.objects.create(
            group_id=f"g-{uuid.uuid4().hex[:12]}", display_name=name
        )
        ids = [m.identity_center_user_id for m in members] + list(member_ids)
        IdentityCenterGroupMember.objects.bulk_create(
            IdentityCenterGroupMember(group=group, user_id=i) for i in ids
        )
        group.member_count, group.members_synced_at = len(ids), timezone.now()
        group.save()
        return group

    return make


# --- access groups as configuration (tests/changes, tests/api/test_access_group_export.py) ---


@pytest.fixture
def estate_units(db):
    from accessgroups.models import OrganizationalUnit

    root = OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root")
    workloads = OrganizationalUnit.objects.create(
        ou_id="ou-ab12-11111111", name="Workloads", parent=root, path="Root/Workloads"
    )
    return {"root": root, "workloads": workloads}


@pytest.fixture
def estate(dave, bob, erin, estate_units, ic_group, linked):
    """Three live access groups (Developers, Billing, ReadOnly) and one archived (Old), made
    through the catalogue's services as an admin would: accounts listed and by OU, every
    policy kind, approvers by name and by group, eligibility by group, quorum, risk,
    break-glass; for the configuration-as-code tests."""
    from accessgroups.catalogue.services import access_group_archive, access_group_create
    from accessgroups.models import Account, AccountSource
    from tests.changes.estate import DESCRIPTION, INLINE

    accounts = [
        Account.objects.create(account_id=f"11111111111{n}", name=f"acct-{n}") for n in range(3)
    ]
    Account.objects.create(
        account_id="222222222222",
        name="api-prod",
        source=AccountSource.ORGANIZATIONS,
        parent_ou=estate_units["workloads"],
        ou_path=estate_units["workloads"].path,
    )
    ic_group("Platform", members=[linked(bob), linked(erin)])
    ic_group("Engineering")
    developers = access_group_create(
        actor=dave,
        name="Developers",
        description=DESCRIPTION,
        accounts=[accounts[0].account_id, accounts[1].account_id],
        organizational_units=[estate_units["workloads"].ou_id],
        aws_managed_policies=[
            "arn:aws:iam::aws:policy/PowerUserAccess",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ],
        customer_managed_policies=[{"name": "deploy", "path": "/team/"}, {"name": "logs"}],
        inline_policy=INLINE,
        session_duration="PT4H",
        approvers=["bob", "erin"],
        approver_groups=["Platform"],
        eligible_groups=["Engineering"],
        approvals_required=2,
        risk="high",
        break_glass=True,
        max_duration_hours=8,
        applications_note="Grafana (attached by hand)",
    )
    billing = access_group_create(
        actor=dave,
        name="Billing",
        accounts=[accounts[2].account_id],
        aws_managed_policies=["arn:aws:iam::aws:policy/job-function/Billing"],
        session_duration="PT1H30M",
        approvers=["bob"],
        auto_approve=True,
        risk="low",
    )
    readonly = access_group_create(
        actor=dave,
        name="ReadOnly",
        aws_managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        requestable=False,
    )
    old = access_group_create(actor=dave, name="Old", approvers=["bob"])
    access_group_archive(actor=dave, access_group=old)
    return {"Developers": developers, "Billing": billing, "ReadOnly": readonly, "accounts": accounts}
