"""The Django admin shows the portal's rows and changes none of them, for anyone."""

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.core.audit import audit_record
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    Account,
    AuditEvent,
    Membership,
    MembershipExtension,
    OrganizationalUnit,
    OrganizationsSync,
    User,
)
from tests.api.helpers import database_fingerprint

PORTAL_MODELS = [
    User,
    Account,
    AccessGroup,
    Membership,
    AccessRequest,
    AuditEvent,
    OrganizationalUnit,
    OrganizationsSync,
]


@pytest.fixture
def root(make_user):
    return make_user("root", is_superuser=True, is_staff=True)


@pytest.fixture
def browser(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def rows(alice, bob, readonly):
    request = access_request_create(requester=alice, access_group=readonly, justification="x")
    access_request_approve(access_request=request, approver=bob)
    return {
        User: alice,
        Account: readonly.current_accounts().get(),
        AccessGroup: readonly,
        Membership: Membership.objects.get(),
        AccessRequest: request,
        AuditEvent: audit_record(action="test.event"),
        OrganizationalUnit: OrganizationalUnit.objects.create(ou_id="r-ab12", name="Root", path="Root"),
        OrganizationsSync: OrganizationsSync.objects.create(error="unreachable"),
    }


@pytest.mark.parametrize("model", PORTAL_MODELS, ids=lambda m: m.__name__)
def test_pages_show_rows(browser, rows, model):
    opts = model._meta
    changelist = browser.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    detail = browser.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[rows[model].pk])
    )
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content  # shown, not editable


@pytest.mark.parametrize("model", PORTAL_MODELS, ids=lambda m: m.__name__)
def test_no_add_change_or_delete_even_for_superusers(browser, root, rows, model, rf):
    opts = model._meta
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = root
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, rows[model])
    assert not model_admin.has_delete_permission(request, rows[model])

    before = database_fingerprint()
    base = f"admin:{opts.app_label}_{opts.model_name}"
    assert browser.get(reverse(f"{base}_add")).status_code == 403
    assert (
        browser.post(
            reverse(f"{base}_change", args=[rows[model].pk]), {"action": "forged"}
        ).status_code
        == 403
    )
    assert (
        browser.post(reverse(f"{base}_delete", args=[rows[model].pk]), {"post": "yes"}).status_code
        == 403
    )
    assert database_fingerprint() == before


def test_membership_page_lists_its_extensions(browser, rows, bob):
    membership = rows[Membership]
    page = browser.get(reverse("admin:accessgroups_membership_change", args=[membership.pk]))
    assert b"2031" not in page.content
    MembershipExtension.objects.create(
        membership=membership,
        previous_expires_at=datetime(2031, 5, 6, 12, tzinfo=UTC),
        expires_at=None,
        changed_by=bob,
    )
    page = browser.get(reverse("admin:accessgroups_membership_change", args=[membership.pk]))
    assert page.status_code == 200
    assert b"Membership extensions" in page.content
    assert b"2031" in page.content


def test_user_pages_hide_the_password_hash(browser, alice):
    page = browser.get(reverse("admin:accessgroups_user_change", args=[alice.pk]))
    assert alice.password.encode() not in page.content


def test_no_django_groups_beside_access_groups():
    from django.contrib import admin
    from django.contrib.auth.models import Group

    assert not admin.site.is_registered(Group)


def test_one_accounts_section_and_the_sign_in_apps_say_what_they_hold(browser):
    """The portal's AWS accounts are the only "Accounts"; allauth's apps are named for
    what they hold, "Two-factor" as everywhere in the portal."""
    import re

    page = browser.get(reverse("admin:index")).content.decode()
    sections = re.findall(r"<caption>\s*<a[^>]*>([^<]*)</a>", page)
    assert sections == [
        "Access groups",
        "Sign-in email addresses",
        "Single sign-on identities",
        "Two-factor authentication",
    ]
    assert "Accounts</a>" in page  # the portal's model, inside "Access groups"
