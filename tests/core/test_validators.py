"""Identity Center's rules are ASCII, whole-value rules: what the API's schema shows as a
pattern is exactly what the validators apply."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from accessgroups.core import validators


@pytest.mark.parametrize(
    "value",
    [
        "١٢٣٤٥٦٧٨٩٠١٢",  # Arabic-Indic digits: Python's \d took them
        "１２３４５６７８９０１２",  # fullwidth digits
        "12345678901",
        "1234567890123",
    ],
)
def test_account_ids_are_twelve_ascii_digits(value):
    with pytest.raises(ValidationError):
        validators.validate_account_id(value)


def test_an_account_id_around_white_space_is_read():
    assert validators.validate_account_id(" 123456789012 ") == "123456789012"


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (validators.validate_group_name, "Developers\n"),  # "$" matched before a final newline
        (validators.validate_group_name, "Dévelopers"),
        (validators.validate_session_duration, "PT4H\n"),
        (validators.validate_session_duration, "PT٤H"),
        (validators.validate_session_duration, "PT"),
        (validators.validate_session_duration, "PT30M1H"),  # out of order
    ],
)
def test_whole_ascii_values_only(check, value):
    with pytest.raises(ValidationError):
        check(value)


@pytest.mark.parametrize(
    "value",
    ["arn:aws:iam::aws:policy/ReadOnlyAccess\n", "arn:aws:iam::aws:policy/Read٤Only"],
)
def test_managed_policy_arns_whole_and_ascii(value):
    with pytest.raises(ValidationError):
        validators.validate_managed_policy_arns([value])


def test_customer_policy_names_whole_and_ascii():
    with pytest.raises(ValidationError):
        validators.validate_customer_managed_policies([{"name": "deploy\n", "path": "/"}])


@pytest.mark.parametrize(
    ("value", "duration"),
    [
        ("PT1H", timedelta(hours=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("PT90M", timedelta(minutes=90)),
        ("PT3600S", timedelta(hours=1)),
        ("PT2H0M30S", timedelta(hours=2, seconds=30)),
        ("PT12H", timedelta(hours=12)),
    ],
)
def test_session_durations_in_every_form(value, duration):
    assert validators.parse_session_duration(value) == duration
    assert validators.validate_session_duration(value) == value
