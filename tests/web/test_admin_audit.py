"""Every write Django admin allows is an audit event: walked over all of ``admin.site``, so
that an app added later with a writable admin page fails here until it is audited or
made read-only."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.test import Client
from django.urls import reverse

from accessgroups.admin import AuditedAdminMixin
from accessgroups.models import AuditEvent

pytestmark = pytest.mark.django_db

AUDIT_HOOKS = ("log_addition", "log_change", "log_deletions")


@pytest.fixture
def root(make_user):
    return make_user("root", is_superuser=True, is_staff=True)


def writes_allowed(model_admin, request) -> list[str]:
    """What a superuser may change through this model admin and its inlines."""
    allowed = [
        what
        for what, may in (
            ("add", model_admin.has_add_permission(request)),
            ("change", model_admin.has_change_permission(request)),
            ("delete", model_admin.has_delete_permission(request)),
            # Actions write in their own ways (allauth's "mark as verified", bulk delete).
            ("actions", bool(model_admin.get_actions(request))),
        )
        if may
    ]
    for inline in model_admin.get_inline_instances(request):
        if (
            inline.has_add_permission(request, None)
            or inline.has_change_permission(request)
            or inline.has_delete_permission(request)
        ):
            allowed.append(f"inline {type(inline).__name__}")
    return allowed


def test_no_model_admin_writes_without_an_audit_event(root, rf):
    request = rf.get("/admin/")
    request.user = root
    writable = {}
    for model, model_admin in admin.site._registry.items():
        allowed = writes_allowed(model_admin, request)
        if not allowed:
            continue
        writable[model._meta.label] = allowed
        assert isinstance(model_admin, AuditedAdminMixin), (model._meta.label, allowed)
        for hook in AUDIT_HOOKS:
            # Not overridden below the mixin by something that skips the audit.
            assert getattr(type(model_admin), hook) is getattr(AuditedAdminMixin, hook), hook
    # The one write left: removing a lost second factor. Everything else is read-only.
    assert writable == {"mfa.Authenticator": ["delete", "actions"]}


def test_the_walk_sees_every_app_that_registers_admin_pages():
    labels = {model._meta.app_label for model in admin.site._registry}
    # auth's Group is not registered at all: roles are flags on the user.
    assert labels == {"accessgroups", "account", "socialaccount", "mfa"}
    assert "authtoken" not in labels


@pytest.fixture
def second_factor(alice) -> list[Authenticator]:
    totp = Authenticator.objects.create(
        user=alice, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    codes = Authenticator.objects.create(
        user=alice, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00" * 20, "used_mask": 0}
    )
    return [totp, codes]


def test_removing_a_lost_second_factor_is_audited(root, alice, second_factor):
    client = Client()
    client.force_login(root)
    totp = second_factor[0]
    page = client.get(reverse("admin:mfa_authenticator_change", args=[totp.pk]))
    assert page.status_code == 200
    assert b"JBSWY3DPEHPK3PXP" not in page.content  # the secret is never shown

    response = client.post(
        reverse("admin:mfa_authenticator_delete", args=[totp.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    # The recovery codes backed up that factor only: they go with it, as on allauth's pages.
    assert not Authenticator.objects.filter(user=alice).exists()
    events = AuditEvent.objects.filter(action="admin.deleted").order_by("sequence")
    assert [(e.actor, e.subject, e.object_type) for e in events] == [
        (root, alice, "authenticator"),
        (root, alice, "authenticator"),
    ]
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2


def test_bulk_removal_through_the_action_is_audited_too(root, alice, bob, second_factor):
    other = Authenticator.objects.create(
        user=bob, type=Authenticator.Type.TOTP, data={"secret": "KRSXG5CTMVRXEZLU"}
    )
    client = Client()
    client.force_login(root)

    response = client.post(
        reverse("admin:mfa_authenticator_changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=other.pk).exists()
    event = AuditEvent.objects.get(action="admin.deleted")
    assert (event.actor, event.subject, event.object_id) == (root, bob, str(other.pk))
    assert Authenticator.objects.filter(user=alice).count() == 2  # not selected, kept
