"""AWS accounts under /api/v1/accounts/: read them, add one by hand, read them from
AWS Organizations (a worker does, through accessgroups.catalogue.services.accounts_sync)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.base import PortalViewSet
from accessgroups.api.fields import column_max
from accessgroups.api.openapi import email_schema
from accessgroups.api.permissions import ADMIN, SIGNED_IN
from accessgroups.catalogue import services as catalogue
from accessgroups.core.limits import ACCOUNT_ID_INPUT_MAX
from accessgroups.core.validators import ACCOUNT_ID_PATTERN
from accessgroups.models import Account


class AccountOut(serializers.ModelSerializer):
    # Not an EmailField: an account added by hand may have no address.
    email = serializers.CharField(
        read_only=True, help_text='The account\'s root email address; "" when not known.'
    )

    ou_id = serializers.CharField(
        source="parent_ou.ou_id", allow_null=True, default=None,
        help_text="The root or OU AWS Organizations holds it in; null for accounts entered by hand.",
    )
    ou_path = serializers.CharField(help_text='"Root/Workloads/Prod"; "" when not known.')

    class Meta:
        model = Account
        fields = ["account_id", "name", "email", "status", "source", "ou_id", "ou_path"]
        read_only_fields = fields


EMAIL_MAX = column_max(Account, "email")


class AccountIn(serializers.Serializer):
    """An account not known yet: an account id the portal has is refused."""

    # The rules accessgroups.catalogue.services.account_create checks (accessgroups.api.openapi).
    schema_rules = {
        "account_id": {"pattern": ACCOUNT_ID_PATTERN},
        "email": email_schema(EMAIL_MAX, blank=True),
    }

    account_id = serializers.CharField(max_length=ACCOUNT_ID_INPUT_MAX)
    name = serializers.CharField(max_length=column_max(Account, "name"))
    email = serializers.CharField(
        max_length=EMAIL_MAX, required=False, allow_blank=True, default=""
    )


class SyncOut(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema_view(
    list=extend_schema(summary="AWS accounts"),
    retrieve=extend_schema(summary="One AWS account"),
)
class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """AWS accounts access groups can grant. Read: everyone signed in; write: admins."""

    queryset = Account.objects.select_related("parent_ou").order_by("name", "account_id")
    serializer_class = AccountOut
    lookup_field = "account_id"
    action_roles = {"list": SIGNED_IN, "retrieve": SIGNED_IN, "create": ADMIN, "sync": ADMIN}
    # A second add of the same account id is refused with 400 before it is tried; 409 is
    # the unique constraint catching two at once.
    conflict_actions = frozenset({"create"})

    @extend_schema(
        summary="Add an account by hand (admin)", request=AccountIn, responses={201: AccountOut}
    )
    def create(self, request: Request) -> Response:
        account = catalogue.account_create(actor=request.user, **self.read_input(AccountIn))
        return self.respond(account, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Read accounts from AWS Organizations (admin)",
        request=None,
        responses={202: SyncOut},
    )
    @action(detail=False, methods=["post"])
    def sync(self, request: Request) -> Response:
        catalogue.accounts_sync(actor=request.user)
        return Response(
            {"detail": "A worker is reading the accounts from AWS Organizations."},
            status=status.HTTP_202_ACCEPTED,
        )
