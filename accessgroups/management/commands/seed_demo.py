"""Demo data for `make run`: accounts, access groups, the personas and an open access
review, adding only what is missing.

Re-running it never undoes what was done in the portal: rows are found by their natural keys
(username, account id, group name, archived or not) and left as they are when they exist, so
an archived group stays archived, an edited description stays edited, a deactivated user stays
deactivated and a revoked membership is not granted again.

Passwords: a demo user gets a random one only when they have none; it is kept in
``demo-passwords.json`` under the var folder (readable by its owner only) so that the next run
can print it again, as long as it still is the user's password. ``--new-passwords`` gives
every active demo user a new one. Every run makes new personal API tokens (a key cannot be
shown twice; the previous run's demo tokens are revoked). This printout is deliberate, for a
local demo, and besides the API tokens page and `drf_create_token` the only place the portal
shows a secret. Every run also re-enqueues provisioning of everything that has an Identity
Center side, because the embedded fake Identity Center starts empty each time.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from accessgroups.access.services import membership_grant
from accessgroups.auth.tokens import api_token_create, api_token_revoke
from accessgroups.catalogue import services as catalogue
from accessgroups.core import sync
from accessgroups.identity import services as identity
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessReview,
    Account,
    ApiToken,
    Membership,
    ProvisioningStatus,
    ReviewOnDeadline,
    User,
)
from accessgroups.reviews.services import access_review_open

ACCOUNTS = [
    ("111122223333", "sandbox"),
    ("222233334444", "staging"),
    ("333344445555", "production"),
    ("444455556666", "security-audit"),
]

# Developers may use the console's Systems Manager sessions but never touch IAM users.
DEVELOPERS_INLINE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "NoLongLivedCredentials",
            "Effect": "Deny",
            "Action": ["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile"],
            "Resource": "*",
        },
        {
            "Sid": "SessionManager",
            "Effect": "Allow",
            "Action": ["ssm:StartSession", "ssm:TerminateSession", "ssm:ResumeSession"],
            "Resource": "*",
        },
    ],
}

ACCESS_GROUPS = [
    {
        "name": "ReadOnly",
        "description": "Read-only access to every account.",
        "accounts": [a for a, _ in ACCOUNTS],
        "aws_managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "session_duration": "PT8H",
        "approvers": ["bob"],
        "requestable": True,
        "max_duration_hours": None,
    },
    {
        "name": "Developers",
        "description": "Build and debug in the sandbox and staging accounts.",
        "accounts": ["111122223333", "222233334444"],
        "aws_managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"],
        "inline_policy": DEVELOPERS_INLINE_POLICY,
        "session_duration": "PT4H",
        "approvers": ["bob"],
        "requestable": True,
        "max_duration_hours": 8,
    },
    {
        "name": "ProductionAdmin",
        "description": "Break-glass administration of production.",
        "accounts": ["333344445555"],
        "aws_managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
        "session_duration": "PT1H",
        "approvers": ["bob"],
        "requestable": True,
        "max_duration_hours": 4,
        # An emergency may not wait for bob: access at once, reviewed by him afterwards.
        "break_glass": True,
    },
]


@dataclass(frozen=True)
class Persona:
    username: str
    given_name: str
    family_name: str
    role: str
    roles: tuple[str, ...] = ()


PERSONAS = [
    Persona("alice", "Alice", "Archer", "requester"),
    Persona("bob", "Bob", "Baker", "approver of every demo group"),
    Persona("carol", "Carol", "Carter", "auditor", roles=("auditor",)),
]
ADMIN = Persona("admin", "Ada", "Admin", "admin (superuser)")
EMAIL_DOMAIN = "example.com"

# Who holds ReadOnly, and why: three members make the demo review worth opening, and bob's
# own membership shows that nobody reviews their own access (an admin gets that item).
READ_ONLY_MEMBERS = [
    ("alice", "Demo data: everyone starts with read-only access."),
    ("bob", "Demo data: approvers can look at what they approve."),
    ("carol", "Demo data: auditors read every account."),
]
REVIEW_DAYS = 14
DEMO_TOKEN_NAME = "demo"
PASSWORDS_FILE = "demo-passwords.json"
CHANGED = "(changed, not shown)"


def _admin() -> User:
    admin = User.objects.filter(username=ADMIN.username).first()
    if admin is None:
        admin = User.objects.create_superuser(
            ADMIN.username,
            f"{ADMIN.username}@{EMAIL_DOMAIN}",
            None,
            given_name=ADMIN.given_name,
            family_name=ADMIN.family_name,
            display_name=f"{ADMIN.given_name} {ADMIN.family_name}",
        )
    return admin


def _persona(admin: User, persona: Persona) -> User:
    user = User.objects.filter(username=persona.username).first()
    if user is None:
        user = identity.user_onboard(
            actor=admin,
            username=persona.username,
            email=f"{persona.username}@{EMAIL_DOMAIN}",
            given_name=persona.given_name,
            family_name=persona.family_name,
            roles=persona.roles,
        )
    return user


def _demo_review(*, opener: User, access_group: AccessGroup) -> AccessReview:
    """A review of the group that its approver can still decide, opened unless one is.

    At its deadline it flags rather than revokes what nobody decided, so that a demo left
    running keeps its demo access.
    """
    now = timezone.now()
    review = AccessReview.objects.filter(
        access_group=access_group, closed_at__isnull=True, deadline__gt=now
    ).first()
    if review is None:
        review = access_review_open(
            opened_by=opener,
            access_group=access_group,
            deadline=now + timedelta(days=REVIEW_DAYS),
            on_deadline=ReviewOnDeadline.FLAG,
        )
    return review


def resync_identity_center() -> dict[str, int]:
    """Make every row with an Identity Center side go through provisioning again.

    Rows marked in sync say nothing about an Identity Center that was just started empty;
    bumping ``generation`` makes the tasks do the work (and heal stale ids) instead of
    returning early.
    """
    stale = {"last_error": "", **sync.pending_fields()}
    with transaction.atomic():
        users = list(
            User.objects.filter(is_active=True, onboarding_requested=True).values_list("pk", flat=True)
        )
        groups = list(AccessGroup.objects.live().values_list("pk", flat=True))
        memberships = list(Membership.objects.active().values_list("pk", flat=True))
        User.objects.filter(pk__in=users).update(**stale)
        AccessGroup.objects.filter(pk__in=groups).update(**stale)
        AccessGroupAccount.objects.filter(access_group__in=groups, valid_to__isnull=True).update(
            provisioning_status=ProvisioningStatus.PENDING, last_error=""
        )
        Membership.objects.filter(pk__in=memberships).update(**stale)
        for model, pks in ((User, users), (AccessGroup, groups), (Membership, memberships)):
            for pk in pks:
                sync.sync_on_commit(model, pk)
    return {"users": len(users), "access_groups": len(groups), "memberships": len(memberships)}


def _demo_token(user: User) -> str:
    """A new personal API token for a demo user (30 days), the previous run's revoked."""
    for token in ApiToken.objects.active().filter(user=user, name=DEMO_TOKEN_NAME):
        api_token_revoke(actor=None, token=token, via="seed_demo")
    # The demo is run from the shell (`make run`), like `drf_create_token`.
    return api_token_create(actor=None, user=user, name=DEMO_TOKEN_NAME, via="seed_demo").key


class _Passwords:
    """The demo passwords this var folder gave out, so that a later run can print them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.known: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.known = {}

    def for_user(self, user: User, *, new: bool) -> str:
        known = self.known.get(user.username)
        if not new and user.has_usable_password():
            # Someone changed it (or another checkout set it): theirs to keep.
            return known if known and user.check_password(known) else CHANGED
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        self.known[user.username] = password
        return password

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(self.known, file, indent=1)


class Command(BaseCommand):
    help = (
        "Create what is missing of the demo accounts, access groups, users and access review "
        "(never undoing what was changed in the portal), print the demo users' passwords with "
        "new API tokens, and re-enqueue Identity Center provisioning."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="Where the portal is served, for the printout."
        )
        parser.add_argument(
            "--new-passwords",
            action="store_true",
            help="Give every active demo user a new password (otherwise only those who have none).",
        )

    def handle(self, *args, base_url: str, new_passwords: bool, **options) -> None:
        admin = _admin()
        users = [_persona(admin, persona) for persona in PERSONAS]
        for account_id, name in ACCOUNTS:
            if not Account.objects.filter(account_id=account_id).exists():
                catalogue.account_create(actor=admin, account_id=account_id, name=name)
        for spec in ACCESS_GROUPS:
            # Archived or not: an archived demo group is what an admin did, not a gap.
            if not AccessGroup.objects.filter(name=spec["name"]).exists():
                catalogue.access_group_create(actor=admin, **spec)
        by_name = {user.username: user for user in users}
        read_only = AccessGroup.objects.live().filter(name="ReadOnly").first()
        if read_only is not None:
            for username, justification in READ_ONLY_MEMBERS:
                member = by_name[username]
                # Ever a member: a revoked or ended membership stays so.
                if member.is_active and not Membership.objects.filter(
                    user=member, access_group=read_only
                ).exists():
                    membership_grant(
                        user=member,
                        access_group=read_only,
                        granted_by=admin,
                        justification=justification,
                    )
            _demo_review(opener=by_name["carol"], access_group=read_only)
        counts = resync_identity_center()

        passwords = _Passwords(Path(settings.VAR_DIR) / PASSWORDS_FILE)
        rows = []
        for persona, user in [*zip(PERSONAS, users, strict=True), (ADMIN, admin)]:
            if not user.is_active:
                rows.append((user.username, f"{persona.role} (deactivated)", "-", "-"))
                continue
            rows.append((user.username, persona.role, passwords.for_user(user, new=new_passwords), _demo_token(user)))
        passwords.save()
        self._print(rows, counts, base_url.rstrip("/"))

    def _print(self, rows: list[tuple[str, str, str, str]], counts: dict[str, int], base_url: str) -> None:
        """Links first, the users last: the table is what one looks for at the bottom of the
        terminal."""
        out = self.stdout
        out.write("")
        out.write(
            f"Provisioning re-enqueued for {counts['users']} users, {counts['access_groups']} access groups "
            f"and {counts['memberships']} memberships."
        )
        out.write(f"  API docs:      {base_url}/api/docs/")
        out.write(f"  Sign in:       {base_url}/accounts/login/  (username or email)")
        if settings.REQUIRE_MFA_FOR_APPROVERS:
            out.write(f"  MFA:           required for approvers and admins; enrol at {base_url}/accounts/2fa/")
        else:
            out.write(
                "  MFA:           NOT required in this demo (REQUIRE_MFA_FOR_APPROVERS=0); "
                "production requires it for approvers and admins."
            )
        # Browsers refuse WebAuthn on an IP address: keys are added under a host name.
        local = base_url.replace("://127.0.0.1:", "://localhost:")
        out.write(f"  Passkeys:      {local}/accounts/2fa/  (security keys and passkeys need a host name)")
        out.write(f"  Django admin:  {base_url}/admin/  (user admin)")
        token = next((row[3] for row in rows if row[3] != "-"), "TOKEN")
        out.write(f"  Try:           curl -H 'Authorization: Token {token}' {base_url}/api/v1/access-groups/")
        out.write("")
        out.write(self.style.SUCCESS("Demo users"))
        header = ("username", "password", "API token (new every run)", "role")
        widths = [max(len(row[i]) for row in [header, *[(u, p, t, r) for u, r, p, t in rows]]) for i in range(3)]
        line = "  {:<%d}  {:<%d}  {:<%d}  {}" % tuple(widths)
        out.write(line.format(*header))
        out.write(line.format(*("-" * w for w in widths), "-" * 4))
        for username, role, password, token in rows:
            out.write(line.format(username, password, token, role))
        if any(row[2] == CHANGED for row in rows):
            out.write("  A password changed in the portal is kept; `manage.py seed_demo --new-passwords` resets them.")
        out.write("")
