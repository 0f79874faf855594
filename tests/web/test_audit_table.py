"""The audit log page's rows written as one string (accessgroups.web.audit_table): byte for
byte what the template wrote, one cell at a time, before it."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.template import engines
from django.utils import timezone

from accessgroups.web.audit_table import rows_html

# templates/accessgroups/reports/audit_log.html's rows before rows_html (the loop's own line
# breaks aside).
ROWS_TEMPLATE = """{% for event in events %}    <tr class="audit-row" data-sequence="{{ event.sequence }}">
      <td data-label="#">{{ event.sequence }}</td>
      <td data-label="When (UTC)" class="nowrap"><time datetime="{{ event.created_at|date:'c' }}">{{ event.created_at|date:"Y-m-d H:i:s" }}</time></td>
      <td data-label="Actor">{% if event.actor_username %}<a href="{{ event.actor_url }}">{{ event.actor_username }}</a>{% else %}<span class="muted">system</span>{% endif %}</td>
      <td data-label="Action"><code>{{ event.action }}</code></td>
      <td data-label="Object">{% if event.object_type %}<span class="muted">{{ event.kind_label }}</span><br><a href="{{ event.object_url }}">{% if event.object_name %}{{ event.object_name }}{% else %}#{{ event.object_id }}{% endif %}</a>{% endif %}
        {% if event.access_group and event.object_type != "accessgroup" %}<div class="muted">group {{ event.access_group.name }}</div>{% endif %}
        {% if event.subject and event.object_type != "user" %}<div class="muted">user {{ event.subject.username }}</div>{% endif %}</td>
      <td data-label="Details">{% if event.message %}<p class="audit-message">{{ event.message }}</p>{% endif %}{% if event.details %}<dl class="kv">{% for key, value in event.details %}<dt>{{ key }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>{% endif %}</td>
    </tr>
{% endfor %}"""


def _event(**changes):
    event = {
        "sequence": 1042,
        "created_at": datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
        "actor_username": "bob",
        "actor_url": "/reports/audit-log/?actor=bob",
        "action": "request.approved",
        "object_type": "accessrequest",
        "kind_label": "Access request",
        "object_url": "/reports/audit-log/?object_type=accessrequest&object_id=7",
        "object_name": "alice → ReadOnly",
        "object_id": "7",
        "access_group": SimpleNamespace(name="ReadOnly"),
        "subject": SimpleNamespace(username="alice"),
        "message": "ok",
        "details": [("approvals", "1"), ("version", "1 → 2")],
    }
    event.update(changes)
    return SimpleNamespace(**event)


EVENTS = [
    _event(),
    _event(
        actor_username="",
        actor_url="/reports/audit-log/?actor=",
        message="",
        details=[],
        created_at=datetime(2026, 3, 1, 0, 5, 3, tzinfo=UTC),
    ),
    _event(object_type="", object_name=None, object_id="", access_group=None, subject=None),
    _event(object_type="accessgroup", object_name=None, object_id="12", subject=None),
    _event(object_type="user", kind_label="User", access_group=None),
    _event(
        actor_username='<b>"o\'hare"</b>',
        actor_url='/reports/audit-log/?actor=%3Cb%3E&x="y"',
        action="<script>alert(1)</script>",
        kind_label="R&D <kind>",
        object_url="/x?a=1&b=<2>",
        object_name="<i>name</i> & co",
        access_group=SimpleNamespace(name="R&D <ops>"),
        subject=SimpleNamespace(username="<u>"),
        message="<script>x</script>",
        details=[("<k>", "<b>"), ("data", '{"a": "&"}')],
        created_at=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize("count", [0, 1, len(EVENTS)])
def test_rows_are_what_the_template_wrote(count):
    events = EVENTS[:count]
    template = engines["django"].from_string(ROWS_TEMPLATE)
    expected = template.render({"events": events})
    assert rows_html(events) == expected
    # Moments in the current time zone, as the template's filter converts them.
    with timezone.override("Asia/Kolkata"):
        elsewhere = template.render({"events": events})
        assert rows_html(events) == elsewhere
    assert elsewhere != expected or count == 0


def test_values_are_escaped():
    written = rows_html(EVENTS)
    assert "<script>" not in written and "<b>" not in written and "<i>" not in written
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in written and "R&amp;D &lt;ops&gt;" in written
    assert 'href="/x?a=1&amp;b=&lt;2&gt;"' in written
