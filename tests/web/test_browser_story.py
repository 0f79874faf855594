"""The whole story in a real browser (Chromium through Playwright) against a live server.

Provisioning really runs: a Celery worker thread in this process consumes an in-memory
broker inside moto (the emulated Identity Center), so approving in the browser sends a task
after commit, exactly as in production, and alice's page turns Active by itself.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accessgroups.catalogue import services as catalogue
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    Membership,
    ProvisioningStatus,
    RequestStatus,
)

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "111111111111"
WAIT_SECONDS = 30


def wait_for(check: Callable[[], object], what: str, seconds: float = WAIT_SECONDS) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def worker(identity_center) -> Iterator[None]:
    """A real Celery worker in a thread, on an in-memory broker, consuming every queue.

    Tasks leave the web request after commit and run in the worker's thread, as they do
    in production; only the broker is in memory instead of Redis.
    """
    from celery.contrib.testing.worker import start_worker
    from kombu import pools as kombu_pools

    from portal.celery import app

    def forget_connections() -> None:
        # Connections and producers made for one broker must not serve the other (as after
        # a fork; Celery caches both on the app).
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        # kombu keeps producer pools per connection in a registry of its own; a closed one
        # left there would be handed to the next test that sends a task.
        kombu_pools.reset()

    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}
    forget_connections()
    app.conf.broker_url = "memory://"
    app.conf.broker_transport_options = {}
    try:
        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            queues=["identity-center", "celery"],
            shutdown_timeout=30,
        ):
            yield
    finally:
        forget_connections()
        app.conf.update(saved)


@pytest.fixture
def world(worker, make_user, alice, bob, carol):
    """dave (admin) creates the account and the access group; the worker provisions it."""
    dave = make_user("dave", is_portal_admin=True)
    catalogue.account_create(actor=dave, account_id=ACCOUNT, name="sandbox")
    group = catalogue.access_group_create(
        actor=dave,
        name="ReadOnly",
        description="Read-only access to the sandbox",
        accounts=[ACCOUNT],
        aws_managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        approvers=["bob"],
    )
    wait_for(
        lambda: (
            AccessGroup.objects.get(pk=group.pk).provisioning_status == ProvisioningStatus.IN_SYNC
        ),
        "the access group to be provisioned",
    )
    return group


def test_request_approve_active_report_revoke(
    new_page, login, world, identity_center, alice, bob, carol, live_server
):
    # alice asks for access.
    alice_page = new_page()
    login(alice_page, alice, via_form=True)
    alice_page.goto("/my/requests/")
    alice_page.get_by_role("link", name="Access groups").click()
    card = alice_page.locator(".card", has=alice_page.get_by_role("heading", name="ReadOnly"))
    card.get_by_role("button", name="Request access").click()
    alice_page.get_by_label("Justification").fill("Investigate the billing alarm")
    alice_page.get_by_role("button", name="Submit request").click()
    expect(alice_page).to_have_url(f"{live_server.url}/my/requests/")
    expect(alice_page.locator(".request .status")).to_have_text("Pending")

    # bob approves with a comment.
    bob_page = new_page()
    login(bob_page, bob)
    bob_page.goto("/")
    bob_page.get_by_role("link", name="Approvals").click()
    request_card = bob_page.locator("article", has_text="alice asks for ReadOnly")
    expect(request_card).to_contain_text("Investigate the billing alarm")
    expect(request_card).to_contain_text("sandbox (111111111111)")
    request_card.get_by_label("Comment").fill("OK for the alarm")
    request_card.get_by_role("button", name="Approve").click()
    expect(bob_page.get_by_text("Nothing is waiting for you.")).to_be_visible()

    # alice's page turns Active by itself: no reload, the htmx poll brings it.
    alice_page.evaluate("window.__notReloaded = true")
    expect(alice_page.locator(".request .status")).to_have_text(
        "Active", timeout=WAIT_SECONDS * 1000
    )
    assert alice_page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    expect(alice_page.locator(".request")).to_contain_text("Approved by bob")
    expect(alice_page.locator(".request")).to_contain_text("OK for the alarm")
    assert identity_center.members("ReadOnly") == ["alice"]
    # Once nothing can change by itself, the page stops asking.
    expect(alice_page.locator("#request-list")).not_to_have_attribute("hx-trigger", "every 2s")

    # carol finds alice's row in the CSV export.
    carol_page = new_page()
    login(carol_page, carol)
    carol_page.goto("/")
    carol_page.get_by_role("link", name="Reports").click()
    with carol_page.expect_download() as download_info:
        carol_page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text("utf-8"))))
    assert any(
        row["username"] == "alice"
        and row["access_group"] == "ReadOnly"
        and row["account_id"] == ACCOUNT
        for row in rows
    ), rows

    # bob revokes; Identity Center forgets her.
    bob_page.get_by_role("link", name="Approvals").click()
    bob_page.get_by_role("link", name="Active access you can revoke").click()
    bob_page.get_by_role("row", name="alice in ReadOnly").get_by_role(
        "button", name="Revoke"
    ).click()
    # A confirmation page asks first.
    expect(bob_page.get_by_role("heading", name="Revoke alice's access to ReadOnly?")).to_be_visible()
    bob_page.get_by_role("button", name="Revoke access").click()
    expect(bob_page.get_by_text("No active access in the groups you approve.")).to_be_visible()
    wait_for(lambda: identity_center.members("ReadOnly") == [], "Identity Center to drop alice")
    assert AccessRequest.objects.get().status == RequestStatus.REVOKED
    assert Membership.objects.get().end_reason == "revoked"
    alice_page.reload()
    expect(alice_page.locator(".request .status")).to_have_text("Revoked")


def test_bob_never_gets_an_approve_button_on_his_own_request(page, login, readonly, bob):
    login(page, bob)
    page.goto("/")
    page.get_by_role("button", name="Request access").click()
    page.get_by_label("Justification").fill("I need it too")
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator(".request .status")).to_have_text("Pending")
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert AccessRequest.objects.get().status == RequestStatus.PENDING


def test_alice_cannot_open_approvals_or_reports(page, login, alice, readonly):
    login(page, alice)
    page.goto("/")
    expect(page.get_by_role("link", name="My requests")).to_be_visible()
    expect(page.get_by_role("link", name="Approvals")).to_have_count(0)
    expect(page.get_by_role("link", name="Reports")).to_have_count(0)
    assert page.goto("/approvals/").status == 403
    assert page.goto(reverse("web:who-has-access")).status == 403


def test_bad_input_shows_the_error_by_the_field_and_saves_nothing(page, login, alice, limited):
    login(page, alice)
    page.goto(f"/access-groups/{limited.pk}/request/")
    page.get_by_label("Justification").fill("deploy the fix")
    page.get_by_label("Duration (hours)").fill("99")
    page.get_by_role("button", name="Submit request").click()
    field = page.get_by_label("Duration (hours)")
    error = page.locator(".field", has=field).locator(".errorlist")
    expect(error).to_have_text("Ensure this value is less than or equal to 8.")
    expect(field).to_have_value("99")
    expect(page.get_by_label("Justification")).to_have_value("deploy the fix")
    assert not AccessRequest.objects.exists()
