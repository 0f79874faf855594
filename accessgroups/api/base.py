"""What every API view shares: authentication and roles, input and output, query filters.

The views under /api/v1/ (one module per resource: users, accounts, access_groups,
access_requests, memberships, reports, audit_events, reviews, review_items, drift) are thin
adapters between HTTP and the workflow. Each reads its input with an explicit input
serializer (types and sizes only), calls one service (accessgroups.access.services,
accessgroups.catalogue.services, accessgroups.identity.services or
accessgroups.reviews.services), which checks the rules and raises ValidationError /
PermissionDenied / Conflict, and answers with the row re-read through the view's queryset,
so a response has the same shape and the same query plan as a list. Nothing here calls AWS.

Status codes: a write that leaves Identity Center work running answers 202 Accepted with
the row (its ``provisioning_status`` tells how far the work is); a write that needs no
AWS work answers 200 or 201.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accessgroups.api.fields import json_type_errors
from accessgroups.api.openapi import NO_NUL_PATTERN
from accessgroups.api.permissions import ActionRoles
from accessgroups.core import limits
from accessgroups.models import ProvisioningStatus


class PortalViewSet(viewsets.GenericViewSet):
    # Signed in, then the role each action names in ``action_roles`` (an action missing
    # there is refused). Subclasses carry a docstring: it is the endpoint's text in the docs.

    permission_classes = [IsAuthenticated, ActionRoles]
    action_roles: dict[str, str] = {}
    # Actions that answer 409 (accessgroups.api.errors): the row's status refuses them
    # (Conflict, InvalidTransition), or a constraint caught a concurrent change. The schema
    # lists 409 for these only (accessgroups.api.openapi).
    conflict_actions: frozenset[str] = frozenset()
    lookup_value_regex = r"[0-9]+"

    def read_input(
        self, serializer_class: type[serializers.Serializer], **kwargs: Any
    ) -> dict[str, Any]:
        """The request body checked by an input serializer; 400 naming the field if not."""
        serializer = serializer_class(data=self.request.data, **kwargs)
        data = self.request.data
        if isinstance(data, dict) and not isinstance(data, QueryDict):  # JSON, not a form
            wrong_types = json_type_errors(serializer.fields, data)
            if wrong_types:
                raise serializers.ValidationError(wrong_types)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def respond(self, obj: Any, code: int = status.HTTP_200_OK) -> Response:
        """The row as a list shows it: re-read through the view's queryset."""
        fresh = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(fresh).data, status=code)


# A present but empty filter (``?until=``) is refused like any other invalid value: the
# schema declares each filter's type (the *_parameter helpers below), and "" is none of them.
# Free-text filters are the exception: there "" is a string, and means no filter.


def query_text(request: Request, name: str) -> str | None:
    """A free-text filter; None when absent or empty. A NUL or an overlong value is refused,
    naming the parameter (accessgroups.core.limits.query_text)."""
    return limits.query_text(request.query_params.get(name), name) or None


def query_choice(
    request: Request, name: str, choices: Iterable[str], default: str | None = None
) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value not in choices:
        raise ValidationError({name: f"Use one of: {', '.join(choices)}."})
    return value


# query_int takes at most 18 digits: every such number fits a 64-bit column.
ID_MAX = 10**18 - 1


def query_int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    # isdigit() alone accepts digits such as "²" that int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(ID_MAX)):
        raise ValidationError({name: "Give a numeric id."})
    return int(value)


TIME_MESSAGE = "Give an ISO 8601 date or date and time, e.g. 2025-01-31T12:00:00Z."


def query_time(request: Request, name: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date-time, or a date (its start, or with end_of_day its end); UTC if naive.

    Returned in UTC, so that what the database compares it with cannot overflow the calendar.
    """
    value = request.query_params.get(name)
    if value is None:
        return None
    # RFC 3339 allows a lower-case "t" and "z"; Django's parser reads only upper case.
    value = value.upper()
    try:
        # A bare date first: parse_datetime would read "2025-01-31" as its midnight,
        # and "until" a day means to the end of it.
        day = parse_date(value) if "T" not in value and " " not in value else None
        if day is not None:
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        else:
            moment = parse_datetime(value)
    except ValueError:  # well-formed but impossible, e.g. month 13
        moment = None
    if moment is None:
        raise ValidationError({name: TIME_MESSAGE})
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        message = "Give a moment between the years 1 and 9999 in UTC."
        raise ValidationError({name: message}) from None


# The filters as the schema shows them, one helper per reading helper above.


def text_parameter(name: str, description: str = "") -> OpenApiParameter:
    """A free-text filter read with query_text ("" or absent: no filter)."""
    return OpenApiParameter(
        name,
        {"type": "string", "maxLength": limits.SEARCH_MAX, "pattern": NO_NUL_PATTERN},
        description=description,
    )


def choice_parameter(
    name: str, choices: Iterable[str], description: str = ""
) -> OpenApiParameter:
    """A filter read with query_choice."""
    return OpenApiParameter(name, str, enum=list(choices), description=description)


def id_parameter(name: str, description: str = "") -> OpenApiParameter:
    """A row id filter read with query_int."""
    return OpenApiParameter(
        name, {"type": "integer", "minimum": 0, "maximum": ID_MAX}, description=description
    )


def time_parameter(name: str, description: str) -> OpenApiParameter:
    """A moment filter read with query_time."""
    return OpenApiParameter(
        name,
        OpenApiTypes.DATETIME,
        description=f"{description} ISO 8601; a date alone (2025-01-31) is accepted too, and "
        "a time without a zone is UTC.",
    )


BOOLEAN_CHOICES = ("true", "false")


def boolean_parameter(name: str, description: str) -> OpenApiParameter:
    """A ``true``/``false`` query filter, as the schema shows it (read it with query_choice)."""
    return choice_parameter(name, BOOLEAN_CHOICES, description)


PROVISIONING_STATUSES = [c.value for c in ProvisioningStatus]
PROVISIONING_FILTER = choice_parameter(
    "provisioning_status", PROVISIONING_STATUSES, "Only rows in this state."
)


def filter_provisioning(request: Request, queryset: QuerySet) -> QuerySet:
    wanted = query_choice(request, "provisioning_status", PROVISIONING_STATUSES)
    return queryset.filter(provisioning_status=wanted) if wanted else queryset
