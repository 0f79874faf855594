"""Checks on what an admin or requester sends, before anything is saved.

Each check raises Django's ValidationError keyed by the API field it is about, so the REST
API and the forms can put the reason next to the field.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from accessgroups.core.limits import validate_hours

# Each rule is one pattern that Python (with fullmatch) and the OpenAPI schema (ECMA-262,
# accessgroups.api) read alike: ASCII classes spelled out, because Python's \w and \d also
# match other scripts' letters and digits ("١٢٣" is three digits to it), and fullmatch, because
# "$" also matches before a final newline.
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
# Portal usernames: Django's username characters, ASCII only (Identity Center's UserName).
USERNAME_PATTERN = r"^[A-Za-z0-9_.@+-]+$"
# Permission set names (and so access group names): Identity Center's own pattern.
GROUP_NAME_PATTERN = r"^[A-Za-z0-9_+=,.@-]{1,32}$"
MANAGED_POLICY_ARN_PATTERN = (
    r"^arn:aws(-[a-z]+)*:iam::aws:policy/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,128}$"
)
CUSTOMER_POLICY_NAME_PATTERN = r"^[A-Za-z0-9_+=,.@-]{1,128}$"
CUSTOMER_POLICY_PATH_PATTERN = r"^/([\x21-\x7e]+/)*$"
CUSTOMER_POLICY_PATH_MAX = 512
# The form only (hours, minutes, seconds, at least one of them, in that order); the range
# (PT1H to PT12H) is validate_session_duration's.
SESSION_DURATION_PATTERN = r"^PT(?:[0-9]+H(?:[0-9]+M)?(?:[0-9]+S)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)$"
_DURATION_PARTS_RE = re.compile(r"([0-9]+)([HMS])")

ACCOUNT_ID_RE = re.compile(ACCOUNT_ID_PATTERN)
USERNAME_RE = re.compile(USERNAME_PATTERN)
GROUP_NAME_RE = re.compile(GROUP_NAME_PATTERN)
MANAGED_POLICY_ARN_RE = re.compile(MANAGED_POLICY_ARN_PATTERN)
CUSTOMER_POLICY_NAME_RE = re.compile(CUSTOMER_POLICY_NAME_PATTERN)
CUSTOMER_POLICY_PATH_RE = re.compile(CUSTOMER_POLICY_PATH_PATTERN)
ISO_DURATION_RE = re.compile(SESSION_DURATION_PATTERN)

# PutInlinePolicyToPermissionSet takes at most 32,768 characters; in each account the policy
# lands on an IAM role, whose inline policies IAM holds to 10,240 characters other than
# white space.
INLINE_POLICY_MAX_BYTES = 32_768
INLINE_POLICY_MAX_NON_WHITESPACE = 10_240
# The statement the portal adds to a permission set's inline policy to deny the running
# sessions of people whose access ended (accessgroups.access.sessions). Sids are unique in
# a policy, so a group's own inline policy may not use it.
REVOKED_SESSIONS_SID = "PortalRevokedSessions"
SESSION_MIN = timedelta(hours=1)
SESSION_MAX = timedelta(hours=12)


def validate_account_id(value: str, field: str = "account_id") -> str:
    value = (value or "").strip()
    if not ACCOUNT_ID_RE.fullmatch(value):
        raise ValidationError({field: f"An AWS account id is exactly 12 digits; got {value!r}."})
    return value


def validate_group_name(value: str, field: str = "name") -> str:
    if not isinstance(value, str) or not GROUP_NAME_RE.fullmatch(value):
        raise ValidationError(
            {
                field: "Use 1 to 32 ASCII letters, digits or the characters + = , . @ _ - "
                "(it becomes the Identity Center permission set name)."
            }
        )
    return value


def parse_session_duration(value: str) -> timedelta | None:
    if not ISO_DURATION_RE.fullmatch(value or ""):
        return None
    parts = {unit: int(number) for number, unit in _DURATION_PARTS_RE.findall(value)}
    return timedelta(
        hours=parts.get("H", 0), minutes=parts.get("M", 0), seconds=parts.get("S", 0)
    )


def validate_session_duration(value: str, field: str = "session_duration") -> str:
    duration = parse_session_duration(value) if isinstance(value, str) else None
    if duration is None:
        raise ValidationError({field: "Give an ISO 8601 duration such as PT1H, PT1H30M or PT12H."})
    if not SESSION_MIN <= duration <= SESSION_MAX:
        raise ValidationError({field: "The session duration must be between PT1H and PT12H."})
    return value


def validate_managed_policy_arns(values: list[str], field: str = "aws_managed_policies") -> list[str]:
    errors = [
        f"{arn!r} is not an AWS managed policy ARN (arn:aws:iam::aws:policy/NAME)."
        for arn in values
        if not isinstance(arn, str) or not MANAGED_POLICY_ARN_RE.fullmatch(arn)
    ]
    if len(set(values)) != len(values):
        errors.append("Each AWS managed policy may be listed once.")
    if errors:
        raise ValidationError({field: errors})
    return list(values)


def validate_customer_managed_policies(
    values: list[dict[str, str]], field: str = "customer_managed_policies"
) -> list[dict[str, str]]:
    errors, cleaned = [], []
    for ref in values:
        if not isinstance(ref, dict):
            errors.append("Each customer managed policy is an object with a name and a path.")
            continue
        name, path = ref.get("name", ""), ref.get("path") or "/"
        if not isinstance(name, str) or not CUSTOMER_POLICY_NAME_RE.fullmatch(name):
            errors.append(f"{name!r} is not a valid IAM policy name (1-128 of letters, digits, +=,.@_-).")
            continue
        if (
            not isinstance(path, str)
            or len(path) > CUSTOMER_POLICY_PATH_MAX
            or not CUSTOMER_POLICY_PATH_RE.fullmatch(path)
        ):
            errors.append(f"{path!r} is not a valid IAM path (it starts and ends with '/').")
            continue
        cleaned.append({"name": name, "path": path})
    keys = [(c["path"], c["name"]) for c in cleaned]
    if len(set(keys)) != len(keys):
        errors.append("Each customer managed policy may be listed once.")
    if errors:
        raise ValidationError({field: errors})
    return cleaned


def validate_policy_quota(managed: int, customer_managed: int) -> None:
    quota = settings.PERMISSION_SET_MANAGED_POLICY_QUOTA
    if managed + customer_managed > quota:
        raise ValidationError(
            {
                "aws_managed_policies": (
                    f"A permission set takes at most {quota} AWS managed and customer managed "
                    f"policies together; this group lists {managed + customer_managed}."
                )
            }
        )


def validate_inline_policy(document: Any, field: str = "inline_policy") -> dict | None:
    if document is None:
        return None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise ValidationError({field: f"The inline policy is not valid JSON: {exc}."}) from None
    if not isinstance(document, dict):
        raise ValidationError({field: "The inline policy must be a JSON object."})
    missing = [key for key in ("Version", "Statement") if key not in document]
    if missing:
        raise ValidationError({field: f"The inline policy needs {' and '.join(missing)}."})
    statement = document["Statement"]
    if not isinstance(statement, (list, dict)) or not statement:
        raise ValidationError({field: "Statement must be a statement object or a non-empty list."})
    statements = statement if isinstance(statement, list) else [statement]
    if any(isinstance(s, dict) and s.get("Sid") == REVOKED_SESSIONS_SID for s in statements):
        raise ValidationError(
            {field: f"The Sid {REVOKED_SESSIONS_SID} is the portal's own; use another."}
        )
    text = json.dumps(document)
    if len(text.encode()) > INLINE_POLICY_MAX_BYTES:
        raise ValidationError({field: f"The inline policy is over {INLINE_POLICY_MAX_BYTES} bytes."})
    non_whitespace = sum(1 for ch in json.dumps(document, separators=(",", ":")) if not ch.isspace())
    if non_whitespace > INLINE_POLICY_MAX_NON_WHITESPACE:
        raise ValidationError(
            {
                field: f"The inline policy has {non_whitespace} characters other than white space; "
                f"Identity Center allows {INLINE_POLICY_MAX_NON_WHITESPACE}."
            }
        )
    return document


def inline_policy_fits(text: str) -> bool:
    """Whether a policy as sent (its JSON text) is within both limits above."""
    return (
        len(text.encode()) <= INLINE_POLICY_MAX_BYTES
        and sum(1 for ch in text if not ch.isspace()) <= INLINE_POLICY_MAX_NON_WHITESPACE
    )


def validate_max_duration(value: int | None, field: str = "max_duration_hours") -> int | None:
    """A group's cap on a grant: None for no limit, else 1 to limits.HOURS_MAX hours."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValidationError({field: "Give a whole number of hours of at least 1, or null for no limit."})
    return validate_hours(value, field)


def validate_requested_duration(value: int | None, max_hours: int | None, field: str = "duration_hours") -> int | None:
    """A request's duration: required and within the maximum when the group has one, and
    never past limits.HOURS_MAX, so that an expiry date can always be computed."""
    validate_hours(value, field)
    if max_hours is not None:
        if value is None:
            raise ValidationError({field: f"This group grants access for at most {max_hours} hours; say how many."})
        if value > max_hours:
            raise ValidationError({field: f"This group grants access for at most {max_hours} hours."})
    return value
