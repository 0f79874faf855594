"""The AWS Organizations tree under /api/v1/organizational-units/, as the last sync stored it.

For the access group form: every root and OU with its parent, path and how many accounts
sit directly in it. Read by everyone signed in, like accounts; AWS is never asked here.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from accessgroups.api.base import PortalViewSet
from accessgroups.api.permissions import SIGNED_IN
from accessgroups.models import AccountStatus, OrganizationalUnit


class OrganizationalUnitOut(serializers.ModelSerializer):
    id = serializers.CharField(source="ou_id", help_text="ou-... or, for the root, r-...")
    parent = serializers.CharField(
        source="parent.ou_id", allow_null=True, default=None, help_text="null for the root"
    )
    accounts_count = serializers.IntegerField(help_text="Accounts directly in this unit.")
    active_accounts_count = serializers.IntegerField(help_text="ACTIVE accounts directly in it.")
    read_error = serializers.CharField(
        help_text='Why the last sync could not list what is under it; "" when it could.'
    )

    class Meta:
        model = OrganizationalUnit
        fields = [
            "id",
            "name",
            "parent",
            "path",
            "accounts_count",
            "active_accounts_count",
            "read_error",
            "last_seen_at",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="The AWS Organizations tree (roots and OUs)"),
    retrieve=extend_schema(summary="One root or OU"),
)
class OrganizationalUnitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Roots and organizational units, by path, as AWS Organizations showed them at the last
    sync (``POST /api/v1/accounts/sync/``, and every ``ORGANIZATIONS_SYNC_SECONDS``). Units no
    longer in the organisation are left out."""

    serializer_class = OrganizationalUnitOut
    lookup_field = "ou_id"
    lookup_value_regex = r"(ou|r)-[0-9a-z-]+"
    action_roles = {"list": SIGNED_IN, "retrieve": SIGNED_IN}

    def get_queryset(self) -> QuerySet:
        return (
            OrganizationalUnit.objects.filter(gone_at__isnull=True)
            .select_related("parent")
            .annotate(
                accounts_count=Count("accounts"),
                active_accounts_count=Count(
                    "accounts", filter=Q(accounts__status=AccountStatus.ACTIVE)
                ),
            )
            .order_by("path", "ou_id")
        )
