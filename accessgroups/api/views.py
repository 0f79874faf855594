"""REST API views under /api/v1/: thin adapters between HTTP and the workflow.

Each view reads its input with an explicit input serializer (types and sizes only), calls
one workflow function (accessgroups/services.py or accessgroups/configuration.py), which
checks the rules and raises ValidationError / PermissionDenied / Conflict, and answers
with the row re-read through the view's queryset, so a response has the same shape and
the same query plan as a list. Nothing here calls AWS.

Status codes: a write that leaves Identity Center work running answers 202 Accepted with
the row (its ``provisioning_status`` tells how far the work is); a write that needs no
AWS work answers 200 or 201. DELETE of an access group archives it and answers 202 with
the archived row, so the client sees the teardown's progress.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.access import services
from accessgroups.api import serializers as s
from accessgroups.api.base import (
    BOOLEAN_CHOICES,
    PROVISIONING_FILTER,
    PortalViewSet,
    filter_provisioning,
    query_choice,
    query_int,
    query_text,
)
from accessgroups.api.permissions import ADMIN, AUDITOR, SIGNED_IN
from accessgroups.catalogue import services as catalogue
from accessgroups.catalogue.selectors import (
    BY_ACCOUNT_ID,
    current_accounts_prefetch,
    current_policies_prefetch,
)
from accessgroups.identity import services as identity
from accessgroups.models import (
    AccessGroup,
    AccessRequest,
    Account,
    Decision,
    Membership,
    RequestStatus,
    User,
)

# --- users --------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Users (admin, auditor)", parameters=[PROVISIONING_FILTER]),
    retrieve=extend_schema(summary="One user (admin, auditor)"),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Portal users and their Identity Center onboarding.

    Read: auditors and admins; write: admins."""

    queryset = User.objects.order_by("username")
    serializer_class = s.UserOut
    action_roles = {
        "list": AUDITOR,
        "retrieve": AUDITOR,
        "create": ADMIN,
        "retry": ADMIN,
        "deactivate": ADMIN,
    }

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = filter_provisioning(self.request, queryset)
        return queryset

    @extend_schema(
        summary="Onboard a user into Identity Center (admin)",
        request=s.UserOnboardIn,
        responses={202: s.UserOut},
    )
    def create(self, request: Request) -> Response:
        user = identity.user_onboard(actor=request.user, **self.read_input(s.UserOnboardIn))
        return self.respond(user, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Retry a failed onboarding (admin)", request=None, responses={202: s.UserOut}
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        user = self.get_object()
        services.provisioning_retry(obj=user, actor=request.user)
        return self.respond(user, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Deactivate a user: all their access is revoked (admin)",
        request=None,
        responses={202: s.UserOut},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        user = identity.user_deactivate(user=self.get_object(), actor=request.user)
        return self.respond(user, status.HTTP_202_ACCEPTED)


# --- accounts -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="AWS accounts"),
    retrieve=extend_schema(summary="One AWS account"),
)
class AccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """AWS accounts access groups can grant. Read: everyone signed in; write: admins."""

    queryset = Account.objects.order_by("name", "account_id")
    serializer_class = s.AccountOut
    lookup_field = "account_id"
    action_roles = {"list": SIGNED_IN, "retrieve": SIGNED_IN, "create": ADMIN, "sync": ADMIN}

    @extend_schema(
        summary="Add an account by hand (admin)", request=s.AccountIn, responses={201: s.AccountOut}
    )
    def create(self, request: Request) -> Response:
        account = catalogue.account_create(actor=request.user, **self.read_input(s.AccountIn))
        return self.respond(account, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Read accounts from AWS Organizations (admin)",
        request=None,
        responses={202: s.SyncOut},
    )
    @action(detail=False, methods=["post"])
    def sync(self, request: Request) -> Response:
        catalogue.accounts_sync(actor=request.user)
        return Response(
            {"detail": "A worker is reading the accounts from AWS Organizations."},
            status=status.HTTP_202_ACCEPTED,
        )


# --- access groups ------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Access groups",
        parameters=[
            OpenApiParameter(
                "archived",
                str,
                enum=["false", "true", "all"],
                description="false (default): live groups; true: archived groups; all: both.",
            ),
            PROVISIONING_FILTER,
        ],
    ),
    retrieve=extend_schema(summary="One access group (archived ones too)"),
)
class AccessGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Access groups: an Identity Center group, permission set and account assignments as one
    thing. Read: everyone signed in; write: admins. Writes answer 202 while Identity Center is
    being updated; ``provisioning_status`` and ``account_status`` tell how far it is."""

    queryset = AccessGroup.objects.all()
    serializer_class = s.AccessGroupOut
    action_roles = {
        "list": SIGNED_IN,
        "retrieve": SIGNED_IN,
        "create": ADMIN,
        "partial_update": ADMIN,
        "destroy": ADMIN,
        "retry": ADMIN,
    }

    def get_queryset(self) -> QuerySet:
        queryset = AccessGroup.objects.order_by("name", "id").prefetch_related(
            current_accounts_prefetch(order_by=BY_ACCOUNT_ID),
            current_policies_prefetch(),
            Prefetch("approvers", queryset=User.objects.order_by("username")),
        )
        if self.action == "list":
            archived = query_choice(
                self.request, "archived", ("false", "true", "all"), default="false"
            )
            if archived == "false":
                queryset = queryset.filter(archived_at__isnull=True)
            elif archived == "true":
                queryset = queryset.filter(archived_at__isnull=False)
            queryset = filter_provisioning(self.request, queryset)
        return queryset

    @extend_schema(
        summary="Create an access group (admin)",
        request=s.AccessGroupIn,
        responses={202: s.AccessGroupOut},
    )
    def create(self, request: Request) -> Response:
        fields = self.read_input(s.AccessGroupIn)
        group = catalogue.access_group_create(actor=request.user, **fields)
        return self.respond(group, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Change an access group (admin); only the fields sent change, the name never",
        request=s.AccessGroupIn(partial=True),
        responses={
            200: OpenApiResponse(
                s.AccessGroupOut, description="Changed; nothing to do in Identity Center."
            ),
            202: OpenApiResponse(
                s.AccessGroupOut, description="Changed; Identity Center is being updated."
            ),
        },
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        fields = self.read_input(s.AccessGroupIn, partial=True)
        generation = group.generation
        group = catalogue.access_group_update(actor=request.user, access_group=group, **fields)
        changed_in_aws = (
            AccessGroup.objects.filter(pk=group.pk).values_list("generation", flat=True).get()
            != generation
        )
        return self.respond(
            group, status.HTTP_202_ACCEPTED if changed_in_aws else status.HTTP_200_OK
        )

    @extend_schema(
        summary="Archive an access group (admin); its Identity Center side is removed",
        request=None,
        responses={202: s.AccessGroupOut},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        group = catalogue.access_group_archive(
            actor=request.user, access_group=self.get_object()
        )
        return self.respond(group, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Retry a failed provisioning (admin)",
        request=None,
        responses={202: s.AccessGroupOut},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        services.provisioning_retry(obj=group, actor=request.user)
        return self.respond(group, status.HTTP_202_ACCEPTED)


# --- access requests ----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Access requests you may see (own, your groups', all for auditors and admins)",
        parameters=[
            OpenApiParameter("status", str, enum=[c.value for c in RequestStatus]),
            OpenApiParameter("access_group", int),
            OpenApiParameter("requester", str, description="Username."),
            OpenApiParameter(
                "decidable",
                str,
                enum=list(BOOLEAN_CHOICES),
                description="true: only requests you can decide now.",
            ),
        ],
    ),
    retrieve=extend_schema(summary="One access request"),
)
class AccessRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Requests for access. Everyone signed in sees their own requests, approvers those of
    their groups, auditors and admins all. Approvers of the group and admins decide (never
    their own request); the requester may cancel an open request or give up active access."""

    serializer_class = s.AccessRequestOut
    queryset = AccessRequest.objects.all()
    action_roles = {
        "list": SIGNED_IN,
        "retrieve": SIGNED_IN,
        "create": SIGNED_IN,
        "approve": SIGNED_IN,
        "reject": SIGNED_IN,
        "cancel": SIGNED_IN,
        "revoke": SIGNED_IN,
    }

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        queryset = (
            AccessRequest.objects.visible_to(user)
            .select_related("requester", "access_group", "membership")
            .prefetch_related(
                Prefetch("decisions", queryset=Decision.objects.select_related("decided_by"))
            )
            .order_by("-created_at", "-id")
        )
        if self.action == "list":
            wanted = query_choice(self.request, "status", [c.value for c in RequestStatus])
            if wanted:
                queryset = queryset.filter(status=wanted)
            group_id = query_int(self.request, "access_group")
            if group_id is not None:
                queryset = queryset.filter(access_group_id=group_id)
            requester = query_text(self.request, "requester")
            if requester:
                queryset = queryset.filter(requester__username=requester)
            if query_choice(self.request, "decidable", BOOLEAN_CHOICES) == "true":
                queryset = queryset.filter(
                    pk__in=AccessRequest.objects.decidable_by(user).values("pk")
                )
        return queryset

    @extend_schema(
        summary="Ask for access", request=s.AccessRequestIn, responses={201: s.AccessRequestOut}
    )
    def create(self, request: Request) -> Response:
        data = self.read_input(s.AccessRequestIn)
        access_request = services.access_request_create(requester=request.user, **data)
        return self.respond(access_request, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve (the group's approvers and admins, never one's own request)",
        request=s.ApproveIn,
        responses={
            200: OpenApiResponse(
                s.AccessRequestOut, description="An extension of active access: expiry moved."
            ),
            202: OpenApiResponse(
                s.AccessRequestOut, description="Approved; access is being provisioned."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        comment = self.read_input(s.ApproveIn)["comment"]
        approved = services.access_request_approve(
            access_request=self.get_object(), approver=request.user, comment=comment
        )
        code = (
            status.HTTP_200_OK
            if approved.status == RequestStatus.ACTIVE
            else status.HTTP_202_ACCEPTED
        )
        return self.respond(approved, code)

    @extend_schema(
        summary="Reject (the group's approvers and admins)",
        request=s.RejectIn,
        responses={200: s.AccessRequestOut},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        comment = self.read_input(s.RejectIn)["comment"]
        rejected = services.access_request_reject(
            access_request=self.get_object(), approver=request.user, comment=comment
        )
        return self.respond(rejected)

    @extend_schema(
        summary="Cancel an open request (the requester or an admin)",
        request=s.CancelIn,
        responses={
            200: OpenApiResponse(
                s.AccessRequestOut, description="Cancelled; no access had been granted."
            ),
            202: OpenApiResponse(
                s.AccessRequestOut, description="Cancelled; access being set up is removed."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        comment = self.read_input(s.CancelIn)["comment"]
        cancelled = services.access_request_cancel(
            access_request=self.get_object(), user=request.user, comment=comment
        )
        removing = cancelled.membership_id is not None and not cancelled.is_extension
        return self.respond(cancelled, status.HTTP_202_ACCEPTED if removing else status.HTTP_200_OK)

    @extend_schema(
        summary="Revoke the access a request granted (approvers, admins, or the requester)",
        request=s.RevokeIn,
        responses={202: s.AccessRequestOut},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        comment = self.read_input(s.RevokeIn)["comment"]
        revoked = services.access_request_revoke(
            access_request=self.get_object(), user=request.user, comment=comment
        )
        return self.respond(revoked, status.HTTP_202_ACCEPTED)


# --- memberships --------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Memberships you may see",
        parameters=[
            OpenApiParameter("active", str, enum=list(BOOLEAN_CHOICES)),
            OpenApiParameter("user", str, description="Username."),
            OpenApiParameter("access_group", int),
            PROVISIONING_FILTER,
        ],
    ),
    retrieve=extend_schema(summary="One membership"),
)
class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Who is in which access group, now and before. Read by auditors and admins (all), the
    member (their own) and the approvers of a group (that group's: they may revoke access to
    it, so they see who has it). Admins grant; admins, the group's approvers and the member
    revoke."""

    serializer_class = s.MembershipOut
    queryset = Membership.objects.all()
    action_roles = {
        "list": SIGNED_IN,
        "retrieve": SIGNED_IN,
        "create": ADMIN,
        "revoke": SIGNED_IN,
        "retry": ADMIN,
    }

    def get_queryset(self) -> QuerySet:
        queryset = (
            Membership.objects.visible_to(self.request.user)
            .select_related("user", "access_group", "granted_by")
            .order_by("-granted_at", "-id")
        )
        if self.action == "list":
            active = query_choice(self.request, "active", BOOLEAN_CHOICES)
            if active is not None:
                queryset = queryset.filter(ended_at__isnull=(active == "true"))
            member = query_text(self.request, "user")
            if member:
                queryset = queryset.filter(user__username=member)
            group_id = query_int(self.request, "access_group")
            if group_id is not None:
                queryset = queryset.filter(access_group_id=group_id)
            queryset = filter_provisioning(self.request, queryset)
        return queryset

    @extend_schema(
        summary="Grant access directly (admin), audited like a request",
        request=s.MembershipGrantIn,
        responses={
            200: OpenApiResponse(
                s.MembershipOut, description="Extended active access: expiry moved."
            ),
            202: OpenApiResponse(
                s.MembershipOut, description="Granted; access is being provisioned."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        data = self.read_input(s.MembershipGrantIn)
        membership = services.membership_grant(
            user=data["user"],
            access_group=data["access_group"],
            granted_by=request.user,
            justification=data["justification"],
            duration_hours=data.get("duration_hours"),
        )
        code = status.HTTP_200_OK if membership.activated_at else status.HTTP_202_ACCEPTED
        return self.respond(membership, code)

    @extend_schema(
        summary="End a membership (admins, the group's approvers, the member)",
        request=s.RevokeIn,
        responses={202: s.MembershipOut},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        comment = self.read_input(s.RevokeIn)["comment"]
        membership = services.membership_revoke(
            membership=self.get_object(), revoked_by=request.user, comment=comment
        )
        return self.respond(membership, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Retry a failed provisioning (admin)",
        request=None,
        responses={202: s.MembershipOut},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        services.provisioning_retry(obj=membership, actor=request.user)
        return self.respond(membership, status.HTTP_202_ACCEPTED)
