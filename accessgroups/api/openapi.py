"""The OpenAPI schema (/api/schema/) as the API really behaves: every answer, every rule.

drf-spectacular describes what a view returns when all goes well, from its
``@extend_schema``. The answers the shared machinery gives are added here, once for every
operation, so no view can forget one:

- 400, the body refused: ``ValidationError`` (each field with its reasons, as
  accessgroups.api.errors writes them), or ``Error`` for a body that cannot be read;
- 401, 403, 404: ``Error`` (``{"detail": ...}``), from DRF's authentication, the
  permissions, a row the reader may not see, or a page past the end;
- 406: ``Error``, an Accept header that names no media type the operation answers in;
- 409, for the actions a view names in ``conflict_actions``: the row's state refuses the
  change, or a constraint caught a concurrent one (accessgroups.core.errors.Conflict);
- 415 where there is a body: one of a media type the API does not read;
- 429 with ``Retry-After``: throttled.

Request bodies carry the rules the services check as far as JSON Schema can say them: an
input serializer's ``schema_rules`` (patterns, formats, enums) are merged into its fields,
and every text field says with a pattern that it refuses NUL (DRF does, and PostgreSQL
could not store it) and, unless it may be blank, text that is only white space (DRF strips
it before it checks). Rules about other rows or the clock (an unknown id, a duplicate name,
a deadline in the past) stay in the descriptions.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

JSON = "application/json"

# Text without NUL; and text without NUL that is more than white space, since DRF strips
# white space before it checks that a field is not blank.
NO_NUL_PATTERN = r"^[^\x00]*$"
NOT_BLANK_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
NOT_BLANK = {"pattern": NOT_BLANK_PATTERN}
# Django's EmailValidator, the one the services use, for ASCII addresses: a dot-atom before
# the "@", then host name labels and a top-level domain of letters (or an xn-- one). Django
# also takes quoted local parts, IDN domains, "localhost" and [IP] literals: rare in an
# address Identity Center will use, and left out so that the pattern stays readable.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ATOM = r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+"
EMAIL_ADDRESS = (
    rf"{_ATOM}(\.{_ATOM})*@{_LABEL}(\.{_LABEL})*\.([A-Za-z][A-Za-z-]{{0,61}}[A-Za-z]"
    r"|[Xx][Nn]--[A-Za-z0-9]{1,59})"
)


def email_schema(max_length: int, *, blank: bool = False) -> dict[str, Any]:
    """An address as the services accept it; with ``blank``, or "" for none.

    A pattern, not "format": "email": JSON Schema's email format and Django's validator
    disagree at the edges (a one-letter top-level domain, an xn-- label that is not valid
    punycode), and a client should be told the rule that is applied."""
    pattern = f"^({EMAIL_ADDRESS})?$" if blank else f"^{EMAIL_ADDRESS}$"
    return {"type": "string", "pattern": pattern, "maxLength": max_length}


ERROR_SCHEMA = {
    "type": "object",
    "description": "Why the call was refused.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Each refused field with its reasons; ``non_field_errors`` for a reason about the "
        "whole body. A field of a nested object or a list item holds the same shape, keyed "
        "by field name or item index."
    ),
    "minProperties": 1,
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"$ref": "#/components/schemas/ValidationError"},
        ]
    },
}


class PortalAutoSchema(AutoSchema):
    """DEFAULT_SCHEMA_CLASS of the portal (see the module's docstring)."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, response in self._refusals("requestBody" in operation).items():
            responses.setdefault(code, response)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _refusals(self, has_body: bool) -> dict[str, dict[str, Any]]:
        error = self._component("Error", ERROR_SCHEMA)
        invalid = self._component("ValidationError", VALIDATION_ERROR_SCHEMA)

        def answer(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
            return {"description": description, "content": {JSON: {"schema": schema}}, **extra}

        refusals = {
            "400": answer(
                "Bad input: each refused field with its reasons (ValidationError), or a body "
                "that cannot be read (Error).",
                {"anyOf": [invalid, error]},
            ),
            "401": answer(
                "Not signed in: no credentials, or ones the portal does not know.",
                error,
                headers={
                    "WWW-Authenticate": {
                        "schema": {"type": "string"},
                        "description": "How to authenticate: Token.",
                    }
                },
            ),
            "403": answer("Signed in, but not allowed: your role, or this row's rules.", error),
            "404": answer(
                "No such row, or none you may see; or a page past the last one.", error
            ),
            "406": answer("The Accept header names no media type this answers in.", error),
            "429": answer(
                "Too many requests: slow down.",
                error,
                headers={
                    "Retry-After": {
                        "schema": {"type": "integer", "minimum": 0},
                        "description": "Seconds to wait before trying again.",
                    }
                },
            ),
        }
        if getattr(self.view, "action", None) in getattr(self.view, "conflict_actions", ()):
            refusals["409"] = answer(
                "The row's current state refuses this (e.g. a request already decided), or a "
                "concurrent change got there first; the reason names the field when there is one.",
                {"anyOf": [error, invalid]},
            )
        if has_body:
            refusals["415"] = answer("A body of a media type the API does not read.", error)
        return refusals

    def _map_basic_serializer(
        self, serializer: serializers.Serializer, direction: str
    ) -> dict[str, Any]:
        # _insert_field_validators has no direction of its own: lend it this one.
        outer, self._direction = getattr(self, "_direction", None), direction
        try:
            schema = super()._map_basic_serializer(serializer, direction)
        finally:
            self._direction = outer
        if direction == "request":
            properties = schema.get("properties", {})
            for name, rules in getattr(serializer, "schema_rules", {}).items():
                properties[name] = _with_rules(properties[name], rules)
        return schema

    def _insert_field_validators(self, field: serializers.Field, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        # After drf-spectacular's own, which would wrap a blank-allowing field with a pattern
        # in a oneOf with "", which this pattern matches too.
        if (
            getattr(self, "_direction", None) == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & schema.keys()
        ):
            blank_refused = not field.allow_blank and field.trim_whitespace
            schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else NO_NUL_PATTERN


def _with_rules(schema: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """The field's schema with ``rules`` on top; rules that give a ``type`` are a whole
    schema, which keeps only the field's description and default."""
    if "type" in rules:
        schema = {k: v for k, v in schema.items() if k in ("title", "description", "default")}
    return {**schema, **rules}
