"""``{{ moment|utc_time }}``: a moment as the pages show one, in a ``<time>`` element.

Written as ``<time datetime="{{ m|date:'c' }}">{{ m|date:"Y-m-d H:i" }} UTC</time>`` it
cost 40 µs (two passes of Django's date formatting, character by character); a report page
of 50 rows shows a hundred. The filter writes the same bytes directly: the ISO 8601 form,
then year-month-day hours:minutes, of the moment in the current time zone (the portal's is
UTC), as the ``date`` filter converts it. Anything but a datetime is written by the two
filters, as before.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter(expects_localtime=True)
def utc_time(moment: datetime | None) -> SafeString | str:
    if not isinstance(moment, datetime):  # None or a date: as the two filters write it
        return format_html(
            '<time datetime="{}">{} UTC</time>',
            date_filter(moment, "c"),
            date_filter(moment, "Y-m-d H:i"),
        )
    # Digits, dashes, colons, a dot and a sign: nothing to escape.
    return mark_safe(
        f'<time datetime="{moment.isoformat()}">{moment.year:04d}-{moment.month:02d}-'
        f"{moment.day:02d} {moment.hour:02d}:{moment.minute:02d} UTC</time>"
    )
