"""Django admin: a window onto the portal's rows, not a way around the workflow.

Every change to access or its configuration has to go through the services of
accessgroups (access, identity, catalogue), which check the rules, write the audit log and
ask for provisioning; an admin form saving a row directly would do none of that. So these pages
are read-only for everyone, superusers included. The audit log is append-only on top of
that (database triggers refuse UPDATE and DELETE). Admins change things through the REST
API (/api/v1/) and the portal's pages.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    AccessRequest,
    Account,
    AuditEvent,
    Decision,
    Membership,
    MembershipExtension,
    User,
)


class ReadOnlyMixin:
    """No add, change or delete, for anyone; viewing needs the model's view permission."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    actions = None  # the bulk "delete selected" action is a change too


class ReadOnlyTabular(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = (
        "username",
        "email",
        "given_name",
        "family_name",
        "is_active",
        "is_auditor",
        "is_portal_admin",
        "is_superuser",
        "provisioning_status",
    )
    list_filter = (
        "is_active",
        "is_auditor",
        "is_portal_admin",
        "is_superuser",
        "provisioning_status",
    )
    search_fields = ("username", "email", "given_name", "family_name", "identity_center_user_id")
    # The password hash is nobody's business, not even on a read-only page.
    exclude = ("password", "groups", "user_permissions")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("account_id", "name", "email", "status", "source", "updated_at")
    list_filter = ("status", "source")
    search_fields = ("account_id", "name", "email")


class AccountLinkInline(ReadOnlyTabular):
    model = AccessGroupAccount
    fields = ("account", "valid_from", "valid_to", "provisioning_status", "last_error")
    readonly_fields = fields


class PolicyInline(ReadOnlyTabular):
    model = AccessGroupPolicy
    fields = ("kind", "arn", "path", "name", "document", "valid_from", "valid_to")
    readonly_fields = fields


@admin.register(AccessGroup)
class AccessGroupAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "requestable",
        "session_duration",
        "max_duration_hours",
        "provisioning_status",
        "archived_at",
    )
    list_filter = (
        "requestable",
        "provisioning_status",
        ("archived_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("name", "description")
    inlines = (AccountLinkInline, PolicyInline)


class MembershipExtensionInline(ReadOnlyTabular):
    model = MembershipExtension
    fields = ("changed_at", "previous_expires_at", "expires_at", "changed_by")
    readonly_fields = fields


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    inlines = [MembershipExtensionInline]
    list_display = (
        "user",
        "access_group",
        "source",
        "granted_at",
        "expires_at",
        "ended_at",
        "end_reason",
        "provisioning_status",
    )
    list_filter = ("source", "end_reason", "provisioning_status")
    search_fields = ("user__username", "access_group__name")
    list_select_related = ("user", "access_group")


class DecisionInline(ReadOnlyTabular):
    model = Decision
    fk_name = "request"
    fields = ("decided_by", "outcome", "comment", "created_at")
    readonly_fields = fields


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "requester",
        "access_group",
        "status",
        "duration_hours",
        "is_extension",
        "created_at",
    )
    list_filter = ("status", "is_extension")
    search_fields = ("requester__username", "access_group__name", "justification")
    list_select_related = ("requester", "access_group")
    inlines = (DecisionInline,)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "sequence",
        "created_at",
        "actor_username",
        "action",
        "object_type",
        "object_id",
    )
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "action", "object_id", "message")
    date_hierarchy = "created_at"
