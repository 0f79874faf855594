"""Input pieces several resources share: bounds, fields and the comment bodies.

Input serializers check types and sizes only (a string where a number belongs, a value too
long for its column); the rules (name patterns, session durations, who may do what) are
the services' (accessgroups.access.services, accessgroups.catalogue.services,
accessgroups.identity.services, accessgroups.reviews.services), so that the API, the pages
and the tests all meet the same checks. Bounds come from accessgroups.core.limits, or from
the model's column when a value fills one or looks a row up by it.

Output serializers read prefetched data only; the views' querysets load everything a
page of rows needs in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from accessgroups.core.limits import (
    HOURS_MAX,
    HOURS_MAX_MESSAGE,
    HOURS_MIN_MESSAGE,
    TEXT_MAX,
    column_max,
    contains_nul,
)
from accessgroups.models import User

USERNAME_MAX = column_max(User, "username")
EMAIL_MAX = column_max(User, "email")


def hours_field(**kwargs: Any) -> serializers.IntegerField:
    """An optional number of hours, 1 to the cap as everywhere (accessgroups.core.limits)."""
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=HOURS_MAX,
        error_messages={"min_value": HOURS_MIN_MESSAGE, "max_value": HOURS_MAX_MESSAGE},
        **kwargs,
    )


class UsernameField(serializers.SlugRelatedField):
    """A user named by username. Unlike CharField, SlugRelatedField lets a NUL through to
    the query, where PostgreSQL refuses it; refuse it here, naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="username", queryset=User.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> User:
        if isinstance(data, str) and contains_nul(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)


class CommentIn(serializers.Serializer):
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX
    )


# One class per action, not CommentIn everywhere: the schema names a request body after its
# serializer, and each action keeps a name of its own (RevokeIn serves every revocation).
class RevokeIn(CommentIn):
    pass


def json_type_errors(fields: Mapping[str, serializers.Field], data: Mapping[str, Any]) -> dict:
    """The fields of a JSON body whose values have another JSON type than the schema says.

    DRF's fields are lenient for the sake of HTML forms, where every value is a string: a
    CharField takes 7 as "7", an IntegerField "7" as 7, a BooleanField "yes" as true. A JSON
    body has types of its own, and the schema promises them; this refuses a value of another
    type, in the field's own words and shape (nested objects and list items by key or index).
    """
    errors: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in data or field.read_only:
            continue
        error = _json_type_error(field, data[name])
        if error:
            errors[name] = error
    return errors


def _json_type_error(field: serializers.Field, value: Any) -> list[str] | dict | None:
    if value is None:
        return None  # allow_null is the field's to decide
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        items = {
            str(index): error
            for index, item in enumerate(value)
            if (error := _json_type_error(field.child, item))
        }
        return items or None
    if isinstance(field, serializers.Serializer) and isinstance(value, Mapping):
        return json_type_errors(field.fields, value) or None
    textual = (serializers.CharField, serializers.ChoiceField, serializers.SlugRelatedField)
    if isinstance(field, textual):
        wrong, key = not isinstance(value, str), "invalid"
    elif isinstance(field, serializers.BooleanField):
        wrong, key = not isinstance(value, bool), "invalid"
    elif isinstance(field, (serializers.IntegerField, serializers.PrimaryKeyRelatedField)):
        # 7.0 is an integer to JSON Schema too; a string or a boolean is not.
        wrong = isinstance(value, (str, bool))
        is_pk = isinstance(field, serializers.PrimaryKeyRelatedField)
        key = "incorrect_type" if is_pk else "invalid"
    else:
        return None
    if not wrong:
        return None
    message = field.error_messages.get(key) or "Incorrect type."
    return [str(message).format(data_type=type(value).__name__, input=value)]
