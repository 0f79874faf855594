"""Users under /api/v1/users/: read them, onboard one into Identity Center, deactivate one."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.access import services
from accessgroups.api.base import PROVISIONING_FILTER, PortalViewSet, filter_provisioning
from accessgroups.api.fields import EMAIL_MAX, USERNAME_MAX, column_max
from accessgroups.api.openapi import email_schema
from accessgroups.api.permissions import ADMIN, AUDITOR
from accessgroups.core.limits import ROLE_INPUT_MAX
from accessgroups.core.roles import ROLES
from accessgroups.core.validators import USERNAME_PATTERN
from accessgroups.identity import services as identity
from accessgroups.identity.source import is_external
from accessgroups.models import User


class UserOut(serializers.ModelSerializer):
    display_name = serializers.CharField(source="effective_display_name", read_only=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLES), read_only=True)
    # Not an EmailField: a superuser made by createsuperuser may have no address, and an
    # address from single sign-on may be one (an IDN) that JSON Schema's "email" refuses.
    email = serializers.CharField(read_only=True, help_text='Email address; "" when not known.')

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "given_name",
            "family_name",
            "display_name",
            "roles",
            "is_active",
            "identity_center_user_id",
            "external_id",
            "provisioning_status",
            "last_error",
        ]
        read_only_fields = fields


class UserOnboardIn(serializers.Serializer):
    """A new user. A username, an email or an external id another user has (emails compared
    without case) is refused."""

    # The rules accessgroups.identity.services.user_onboard checks (accessgroups.api.openapi).
    schema_rules = {
        "username": {"pattern": USERNAME_PATTERN},
        "email": email_schema(EMAIL_MAX),
        "roles": {"items": {"type": "string", "enum": list(ROLES)}},
    }

    username = serializers.CharField(max_length=USERNAME_MAX)
    email = serializers.CharField(max_length=EMAIL_MAX)
    given_name = serializers.CharField(max_length=column_max(User, "given_name"))
    family_name = serializers.CharField(max_length=column_max(User, "family_name"))
    external_id = serializers.CharField(
        max_length=column_max(User, "external_id"),
        required=False,
        allow_blank=True,
        default="",
        help_text="The identity provider's id of the person (OIDC sub, SAML NameID, SCIM "
        "externalId); required when IDENTITY_MATCH=external_id.",
    )
    display_name = serializers.CharField(
        max_length=column_max(User, "display_name"), required=False, allow_blank=True, default=""
    )
    roles = serializers.ListField(
        child=serializers.CharField(max_length=ROLE_INPUT_MAX), required=False, default=list
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if is_external():
            # The identity provider owns the names; with IDENTITY_SOURCE=identity_center they
            # are required, since Identity Center needs them to create the user.
            for name in ("given_name", "family_name"):
                fields[name] = serializers.CharField(
                    max_length=column_max(User, name), required=False, allow_blank=True, default=""
                )
        return fields


@extend_schema_view(
    list=extend_schema(summary="Users (admin, auditor)", parameters=[PROVISIONING_FILTER]),
    retrieve=extend_schema(summary="One user (admin, auditor)"),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Portal users and their Identity Center onboarding.

    Read: auditors and admins; write: admins."""

    queryset = User.objects.order_by("username")
    serializer_class = UserOut
    action_roles = {
        "list": AUDITOR,
        "retrieve": AUDITOR,
        "create": ADMIN,
        "retry": ADMIN,
        "deactivate": ADMIN,
    }
    conflict_actions = frozenset({"create", "retry"})

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = filter_provisioning(self.request, queryset)
        return queryset

    @extend_schema(
        summary="Onboard a user into Identity Center (admin)",
        request=UserOnboardIn,
        responses={202: UserOut},
    )
    def create(self, request: Request) -> Response:
        user = identity.user_onboard(actor=request.user, **self.read_input(UserOnboardIn))
        return self.respond(user, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Retry a failed onboarding (admin)", request=None, responses={202: UserOut}
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        user = self.get_object()
        services.provisioning_retry(obj=user, actor=request.user)
        return self.respond(user, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Deactivate a user: all their access is revoked (admin)",
        request=None,
        responses={202: UserOut},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        user = identity.user_deactivate(user=self.get_object(), actor=request.user)
        return self.respond(user, status.HTTP_202_ACCEPTED)
