"""The audit log page's rows, written as one string.

A page shows 50 events of six cells, each a value or two through the template engine, and
the key/value lines of each event's data: some 1,500 nodes a page, two thirds of its time.
``rows_html`` writes the same HTML directly, every value escaped as the template escapes it,
moments as ``{{ m|date:"c" }}`` and ``{{ m|date:"Y-m-d H:i:s" }}`` write them (in the
current time zone, the portal's UTC); tests/web/test_audit_table.py holds it to the template
it replaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime


def _text(value: Any) -> str:
    return escape(str(value))


def _when(moment: Any) -> str:
    moment = template_localtime(moment)
    return (
        f'<time datetime="{moment.isoformat()}">{moment.year:04d}-{moment.month:02d}-'
        f"{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}</time>"
    )


def _object(event: Any) -> str:
    cell = ""
    if event.object_type:
        name = _text(event.object_name) if event.object_name else f"#{_text(event.object_id)}"
        cell = (
            f'<span class="muted">{_text(event.kind_label)}</span><br>'
            f'<a href="{_text(event.object_url)}">{name}</a>'
        )
    group = (
        f'<div class="muted">group {_text(event.access_group.name)}</div>'
        if event.access_group and event.object_type != "accessgroup"
        else ""
    )
    subject = (
        f'<div class="muted">user {_text(event.subject.username)}</div>'
        if event.subject and event.object_type != "user"
        else ""
    )
    return f"{cell}\n        {group}\n        {subject}"


def _details(event: Any) -> str:
    message = f'<p class="audit-message">{_text(event.message)}</p>' if event.message else ""
    lines = "".join(f"<dt>{_text(k)}</dt><dd>{_text(v)}</dd>" for k, v in event.details)
    return message + (f'<dl class="kv">{lines}</dl>' if event.details else "")


def rows_html(events: Iterable[Any]) -> SafeString:
    """The ``<tr>`` of each event, with what ``accessgroups.web.auditor.audit_log`` sets on
    it: ``kind_label``, ``object_name``, ``object_url``, ``actor_url``, ``details``."""
    parts = []
    for event in events:
        actor = (
            f'<a href="{_text(event.actor_url)}">{_text(event.actor_username)}</a>'
            if event.actor_username
            else '<span class="muted">system</span>'
        )
        parts.append(
            f'    <tr class="audit-row" data-sequence="{event.sequence}">\n'
            f'      <td data-label="#">{event.sequence}</td>\n'
            f'      <td data-label="When (UTC)" class="nowrap">{_when(event.created_at)}</td>\n'
            f'      <td data-label="Actor">{actor}</td>\n'
            f'      <td data-label="Action"><code>{_text(event.action)}</code></td>\n'
            f'      <td data-label="Object">{_object(event)}</td>\n'
            f'      <td data-label="Details">{_details(event)}</td>\n'
            "    </tr>\n"
        )
    return mark_safe("".join(parts))
