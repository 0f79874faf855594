"""{{ moment|utc_time }} writes what the pages wrote with two date filters, byte for byte."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.template import Context, Engine, Template
from django.utils import timezone as django_timezone

BEFORE = '<time datetime="{{ m|date:\'c\' }}">{{ m|date:"Y-m-d H:i" }} UTC</time>'
AFTER = "{{ m|utc_time }}"

MOMENTS = [
    datetime(2026, 11, 30, 5, 7, 9, 123456, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 6, 1, 12, 0),  # naive
    None,
    "",
]


def _render(source: str, moment) -> str:
    return Template(source, engine=Engine.get_default()).render(Context({"m": moment}))


@pytest.mark.parametrize("moment", MOMENTS, ids=repr)
def test_the_same_bytes_as_the_two_date_filters(moment):
    assert _render(AFTER, moment) == _render(BEFORE, moment)


@pytest.mark.parametrize("moment", MOMENTS[:4], ids=repr)
def test_converted_to_the_current_time_zone_as_the_date_filter_does(moment):
    with django_timezone.override("America/New_York"):
        assert _render(AFTER, moment) == _render(BEFORE, moment)
        assert "+00:00" not in _render(AFTER, moment)


def test_a_date_is_refused_as_the_date_filter_refuses_it():
    for source in (BEFORE, AFTER):
        with pytest.raises(TypeError, match="time-related format specifiers"):
            _render(source, date(2026, 6, 1))
