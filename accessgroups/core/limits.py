"""Limits on what people send, one set for the API's serializers and the pages' forms.

A limit that lives in two places drifts: the API once capped a grant at ten years while the
forms took 2,147,483,647 hours, which the worker could not turn into an expiry date. The
services check the hour cap too, so no surface can get past it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model

# Free text people write: a justification, a comment, a description, an applications note.
TEXT_MAX = 4000
# An inline policy as typed into a form; its JSON is then held to Identity Center's limits
# (accessgroups.core.validators).
POLICY_TEXT_MAX = 40_000
# A search box or a filter naming a user, an account or an action.
SEARCH_MAX = 150

# Identifiers the services hold to Identity Center's rules (accessgroups.core.validators,
# accessgroups.core.roles): an account id is 12 digits, a group name at most 32 characters,
# a role one of a few words. Input may be longer than that, so that those checks, not a bare
# length error, say what is wrong; these bounds only keep an absurd value away from them.
ACCOUNT_ID_INPUT_MAX = 32
GROUP_NAME_INPUT_MAX = 64
ROLE_INPUT_MAX = 32

# Longest grant anyone can ask for: ten years. Beyond it an expiry date would leave the
# calendar (year 9999) and the integer columns; a group's own cap is usually far lower.
HOURS_MAX = 24 * 366 * 10
HOURS_MAX_MESSAGE = f"At most {HOURS_MAX} hours (ten years)."
HOURS_MIN_MESSAGE = "Give a whole number of hours of at least 1."

# PostgreSQL refuses NUL in text and in a query, and nothing the portal stores holds one,
# so wherever it arrives (a body, a form, a query parameter) it is refused, naming the field.
NUL_MESSAGE = "Remove the NUL character."


def column_max(model: type[Model], field: str) -> int:
    """The column's own length: a value a form or the API accepts always fits where it is
    stored, and both read the same number."""
    return model._meta.get_field(field).max_length


def contains_nul(value: Any) -> bool:
    """Whether a NUL hides in a string, or in the keys and values of a JSON document."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def query_text(value: str | None, field: str, max_length: int = SEARCH_MAX) -> str:
    """A text query parameter, stripped: "" when absent; a NUL or an overlong value refused."""
    value = (value or "").strip()
    if "\x00" in value:
        raise ValidationError({field: NUL_MESSAGE})
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def hours_after(moment: datetime, hours: int) -> datetime:
    """``moment`` plus ``hours``, never past HOURS_MAX: every service refuses more, and a row
    stored before that rule must still get an expiry rather than overflow the calendar after
    Identity Center granted the access."""
    return moment + timedelta(hours=min(hours, HOURS_MAX))


def validate_hours(value: int | None, field: str) -> int | None:
    """A number of hours: None, or a whole number from 1 to HOURS_MAX."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError({field: HOURS_MIN_MESSAGE})
    if value > HOURS_MAX:
        raise ValidationError({field: HOURS_MAX_MESSAGE})
    return value
