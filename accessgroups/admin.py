"""Django admin: a window onto the portal's rows, not a way around the workflow.

Every change to access or its configuration has to go through the services of
accessgroups (access, identity, catalogue), which check the rules, write the audit log and
ask for provisioning; an admin form saving a row directly would do none of that. So these pages
are read-only for everyone, superusers included. The audit log is append-only on top of
that (database triggers refuse UPDATE and DELETE). Admins change things through the REST
API (/api/v1/) and the portal's pages.

The other apps' admin pages follow one rule: every write Django admin still allows is an
audit event (``AuditedAdminMixin``), and none of them can hand out a credential. Sign-in
email addresses, linked SSO identities and Django groups are read-only (an address or an
identity added to someone is a way to sign in as them); SSO provider configuration and
stored provider tokens are not shown at all (providers come from the environment:
docs/authentication.md); a person's second factor may be deleted (they lost it and enrol
again), audited. tests/web/test_admin_audit.py walks ``admin.site`` to prove it.
"""

from __future__ import annotations

# Their modules register their admins; imported first so that ours replace them whatever
# the order of INSTALLED_APPS.
import allauth.account.admin  # noqa: F401
import allauth.mfa.admin  # noqa: F401
import allauth.socialaccount.admin  # noqa: F401
import django.contrib.auth.admin  # noqa: F401
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from accessgroups.core.audit import audit_record
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    AccessRequest,
    Account,
    ApiToken,
    AuditEvent,
    Decision,
    Membership,
    MembershipExtension,
    OrganizationalUnit,
    OrganizationsSync,
    SessionRevocation,
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
    list_display = ("account_id", "name", "email", "status", "source", "ou_path", "updated_at")
    list_filter = ("status", "source")
    search_fields = ("account_id", "name", "email", "ou_path")


@admin.register(OrganizationalUnit)
class OrganizationalUnitAdmin(ReadOnlyAdmin):
    list_display = ("path", "ou_id", "last_seen_at", "gone_at", "read_error")
    search_fields = ("ou_id", "path")


@admin.register(OrganizationsSync)
class OrganizationsSyncAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "finished_at", "calls", "accounts", "organizational_units",
                    "links_added", "links_removed", "error")


class AccountLinkInline(ReadOnlyTabular):
    model = AccessGroupAccount
    fields = ("account", "valid_from", "valid_to", "explicit", "from_ou", "provisioning_status", "last_error")
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
        "risk",
        "break_glass",
        "auto_approve",
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


@admin.register(SessionRevocation)
class SessionRevocationAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "access_group",
        "identity_center_user_id",
        "created_at",
        "lift_after",
        "lifted_at",
        "lift_reason",
    )
    list_filter = ("lift_reason",)
    search_fields = ("user__username", "access_group__name", "identity_center_user_id")
    list_select_related = ("user", "access_group")


class DecisionInline(ReadOnlyTabular):
    model = Decision
    fk_name = "request"
    fields = ("decided_by", "outcome", "comment", "access_group_version", "created_at")
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
        "starts_at",
        "created_at",
    )
    list_filter = ("status", "is_extension", "break_glass")
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


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "state",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "expires_at")
    search_fields = ("user__username", "name", "prefix")
    list_select_related = ("user",)
    # A hash of a random key gives nothing away, but it is nobody's to read either.
    exclude = ("key_hash",)


# --- the other apps -------------------------------------------------------------------------


class AuditedAdminMixin:
    """Django admin's writes through this model admin are audit events too.

    Django admin calls these hooks inside the write's own transaction (its views are atomic),
    just before a deletion and just after an addition or a change; the LogEntry it writes
    stays as well.
    """

    def log_addition(self, request: HttpRequest, obj: Model, message) -> object:
        entry = super().log_addition(request, obj, message)
        _audit_admin_write(request, "admin.added", obj, message)
        return entry

    def log_change(self, request: HttpRequest, obj: Model, message) -> object:
        entry = super().log_change(request, obj, message)
        _audit_admin_write(request, "admin.changed", obj, message)
        return entry

    def log_deletions(self, request: HttpRequest, queryset) -> object:
        objects = list(queryset)
        entries = super().log_deletions(request, objects)
        for obj in objects:
            _audit_admin_write(request, "admin.deleted", obj, "")
        return entries


def _audit_admin_write(request: HttpRequest, action: str, obj: Model, change) -> None:
    owner = getattr(obj, "user", None)
    verb = action.split(".")[1]
    audit_record(
        action=action,
        actor=request.user,
        obj=obj,
        subject=owner if isinstance(owner, User) else None,
        message=f"Django admin: {obj._meta.verbose_name} {obj} {verb}",
        data={"model": obj._meta.label, "object": str(obj), "change": change or ""},
    )


for model in (Group, EmailAddress, SocialAccount, SocialApp, SocialToken, Authenticator):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


# Django's auth groups are not registered: the portal's roles are flags on the user, and a
# "Groups" section beside "Access groups" only misled.


@admin.register(EmailAddress)
class EmailAddressAdmin(ReadOnlyAdmin):
    # A verified address signs in through SSO as its user: adding one would be a way in.
    list_display = ("email", "user", "primary", "verified")
    list_filter = ("primary", "verified")
    search_fields = ("email", "user__username")
    list_select_related = ("user",)


@admin.register(SocialAccount)
class SocialAccountAdmin(ReadOnlyAdmin):
    # Linking an identity of a provider to a user would let its owner sign in as them.
    list_display = ("user", "provider", "uid", "last_login")
    list_filter = ("provider",)
    search_fields = ("uid", "user__username")
    list_select_related = ("user",)


@admin.register(Authenticator)
class AuthenticatorAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    """Delete only: a person lost their authenticator app or key, and enrols again."""

    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    # The TOTP secret and the recovery codes' seed live in ``data``: never shown.
    exclude = ("data",)
    actions = ["delete_selected"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def delete_model(self, request: HttpRequest, obj: Authenticator) -> None:
        super().delete_model(request, obj)
        self._drop_lone_recovery_codes(request, {obj.user_id})

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        users = set(queryset.values_list("user_id", flat=True))
        super().delete_queryset(request, queryset)
        self._drop_lone_recovery_codes(request, users)

    def _drop_lone_recovery_codes(self, request: HttpRequest, user_ids: set[int]) -> None:
        """Recovery codes back up a second factor; with none left they go too, as allauth's
        own pages do (else signing in would still ask for a code)."""
        second_factors = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
        lone = Authenticator.objects.filter(
            user_id__in=user_ids, type=Authenticator.Type.RECOVERY_CODES
        ).exclude(user__authenticator__type__in=second_factors)
        codes = list(lone)
        if codes:
            self.log_deletions(request, codes)
            Authenticator.objects.filter(pk__in=[c.pk for c in codes]).delete()
