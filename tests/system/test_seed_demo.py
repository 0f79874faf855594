"""`manage.py seed_demo` in-process: run twice it adds nothing the second time, and the
demo has an open access review that bob (the demo approver) has items to decide in.
(tests/system/test_serve.py runs it the way `make run` does, with the worker.)"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accessgroups.access.services import (
    access_request_approve,
    access_request_create,
    membership_revoke,
)
from accessgroups.catalogue.services import access_group_archive, access_group_update
from accessgroups.identity.services import user_deactivate
from accessgroups.models import (
    AccessGroup,
    AccessReview,
    Account,
    ApiToken,
    AuditEvent,
    Membership,
    ReviewItem,
    User,
)
from accessgroups.reviews.services import access_reviews_close_due

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    """demo-passwords.json goes to a folder of the test's own, not the checkout's var/."""
    settings.VAR_DIR = tmp_path
    return tmp_path


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, Account, AccessGroup, Membership, AccessReview, ReviewItem)
    }


def test_twice_adds_nothing_the_second_time():
    printed = _seed()
    first = _rows()
    assert first == {
        "User": 4,
        "Account": 4,
        "AccessGroup": 3,
        "Membership": 3,
        "AccessReview": 1,
        "ReviewItem": 3,
    }
    # Each run makes new API tokens (a key cannot be shown twice) and revokes the old ones:
    # those events, and only those, are new.
    events = AuditEvent.objects.exclude(action__startswith="user.").exclude(
        action__startswith="api_token."
    )
    before = events.count()
    _seed()
    assert _rows() == first
    assert events.count() == before
    for username in ("alice", "bob", "carol", "admin"):
        assert f"  {username} " in printed


def test_the_printout_sends_passkeys_to_a_host_name():
    out = io.StringIO()
    call_command("seed_demo", base_url="http://127.0.0.1:8001", stdout=out)
    printed = out.getvalue()
    assert "Sign in:       http://127.0.0.1:8001/accounts/login/" in printed
    assert "Passkeys:      http://localhost:8001/accounts/2fa/" in printed


def test_the_demo_review_gives_bob_something_to_do(client_for):
    _seed()
    review = AccessReview.objects.get()
    assert (review.access_group.name, review.opened_by.username, review.on_deadline) == (
        "ReadOnly",
        "carol",
        "flag",
    )
    assert review.is_open
    assert abs(review.deadline - review.opened_at - timedelta(days=14)) < timedelta(minutes=1)
    assert sorted(review.items.values_list("member__username", "reviewer__username")) == [
        ("alice", "bob"),
        ("bob", "admin"),  # nobody reviews their own access
        ("carol", "bob"),
    ]
    bob = User.objects.get(username="bob")
    client = client_for(bob)
    listing = client.get(reverse("web:reviews")).content.decode()
    assert f"#{review.pk} access group ReadOnly" in listing
    page = client.get(reverse("web:review-detail", args=[review.pk])).content.decode()
    assert page.count("Keep</button>") == 2 and page.count("Revoke</button>") == 2


def test_a_closed_demo_review_is_followed_by_a_new_one():
    _seed()
    review = AccessReview.objects.get()
    access_reviews_close_due(now=review.deadline + timedelta(seconds=1))
    assert Membership.objects.active().count() == 3  # flagged, not revoked
    _seed()
    fresh = AccessReview.objects.get(closed_at__isnull=True)
    assert fresh.pk != review.pk and fresh.items.count() == 3
    assert AccessReview.objects.count() == 2


def _passwords(printed: str) -> dict[str, str]:
    return {user: password for user, password, _token in DEMO_CREDENTIALS.findall(printed)}


def test_a_second_run_undoes_nothing_done_in_the_portal(var_dir):
    first_passwords = _passwords(_seed())
    assert set(first_passwords) == {"alice", "bob", "carol", "admin"}
    assert (var_dir / "demo-passwords.json").stat().st_mode & 0o777 == 0o600
    admin, alice, bob, carol = (User.objects.get(username=u) for u in ("admin", "alice", "bob", "carol"))
    developers = AccessGroup.objects.get(name="Developers")
    production = AccessGroup.objects.get(name="ProductionAdmin")

    request = access_request_create(
        requester=alice, access_group=developers, justification="Debug the staging deploy.", duration_hours=4
    )
    request = access_request_approve(access_request=request, approver=bob, comment="Staging only.")
    approved = request.status
    access_group_update(actor=admin, access_group=developers, description="Edited by an admin.")
    access_group_archive(actor=admin, access_group=production)
    user_deactivate(user=carol, actor=admin)
    membership_revoke(
        membership=Membership.objects.active().get(user=bob, access_group__name="ReadOnly"),
        revoked_by=admin,
        comment="Approvers do not need it.",
    )
    alice.set_password("alice's own password")
    alice.save(update_fields=["password"])
    before = _rows()

    printed = _seed()

    assert _rows() == before  # nothing duplicated, nothing re-created
    developers.refresh_from_db()
    production.refresh_from_db()
    carol.refresh_from_db()
    request.refresh_from_db()
    assert developers.description == "Edited by an admin."
    assert production.is_archived and AccessGroup.objects.filter(name="ProductionAdmin").count() == 1
    assert not carol.is_active
    assert not Membership.objects.active().filter(user__in=[bob, carol], access_group__name="ReadOnly").exists()
    assert request.status == approved != "pending"
    assert Membership.objects.active().filter(user=alice, access_group=developers).exists()
    alice.refresh_from_db()
    assert alice.check_password("alice's own password")
    # bob's and admin's passwords are the ones the first run printed, printed again.
    again = _passwords(printed)
    assert {u: again[u] for u in ("bob", "admin")} == {u: first_passwords[u] for u in ("bob", "admin")}
    assert "alice" not in again and re.search(r"^  alice\s+\(changed, not shown\)", printed, re.MULTILINE)
    assert re.search(r"^  carol\s+-\s+-\s+auditor \(deactivated\)", printed, re.MULTILINE)


def test_new_passwords_resets_them_on_demand():
    first = _passwords(_seed())
    out = io.StringIO()
    call_command("seed_demo", new_passwords=True, stdout=out)
    second = _passwords(out.getvalue())
    assert set(second) == set(first) and all(second[u] != first[u] for u in first)
    assert User.objects.get(username="bob").check_password(second["bob"])


DEMO_CREDENTIALS = re.compile(r"^  (alice|bob|carol|admin)\s+(\S+)\s+([0-9a-f]{40})\s", re.MULTILINE)


def test_the_printed_tokens_are_personal_tokens_that_work_until_the_next_run():
    first = {user: key for user, _password, key in DEMO_CREDENTIALS.findall(_seed())}
    assert set(first) == {"alice", "bob", "carol", "admin"}
    for user, key in first.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get("/api/v1/access-groups/").status_code == 200, user
    tokens = ApiToken.objects.filter(name="demo")
    assert tokens.count() == 4 and not tokens.filter(key_hash__in=first.values()).exists()

    second = {user: key for user, _password, key in DEMO_CREDENTIALS.findall(_seed())}

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first['alice']}")
    assert client.get("/api/v1/access-groups/").status_code == 401  # revoked by the new run
    client.credentials(HTTP_AUTHORIZATION=f"Token {second['alice']}")
    assert client.get("/api/v1/access-groups/").status_code == 200
    assert ApiToken.objects.active().filter(name="demo").count() == 4
