"""Auditor pages: who has access, and the audit log.

Both read the same selector and queryset as the API's reports, and their "Export CSV" links
point at the API's own CSV endpoints with the same filters (the API accepts the browser
session), so a page and its export can never disagree on what a filter means.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accessgroups.core.limits import NUL_MESSAGE, SEARCH_MAX, column_max
from accessgroups.models import AccessGroup, Account, AuditEvent, User
from accessgroups.reports.audit_names import (
    COMMON_ACTIONS,
    kind_label,
    object_names,
    object_type_choices,
)
from accessgroups.reports.rows import (
    AFTER,
    BEFORE,
    BadCursor,
    KeysetPage,
    cursor_token,
    keyset_rows,
    read_cursor,
)
from accessgroups.reports.selectors import who_has_access as who_has_access_rows
from accessgroups.web.audit_table import rows_html as audit_rows_html
from accessgroups.web.choices import account_options, group_names
from accessgroups.web.report_table import rows_html
from accessgroups.web.requester_forms import moment_input

REPORT_PAGE_SIZE = 50


def require_auditor(user: User) -> None:
    if not user.can_audit:
        raise PermissionDenied("Only auditors and admins can open the reports.")


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in a query; it can never match anything anyway.
    if "\x00" in value:
        raise forms.ValidationError(NUL_MESSAGE)
    return value.strip()


# --- who has access ---------------------------------------------------------------------------


class WhoHasAccessFilters(forms.Form):
    """The filters of who has access and of the matrix.

    An access group and an account are typed, with the known ones offered in a datalist
    (a browser completes from it, and without one it is a plain text box): a select of
    1,000 groups and 500 accounts cost half the page's time through the widget templates.
    An access group is its id (the links the pages make) or its name; an account is its
    12-digit id.
    """

    user = forms.CharField(label="User", required=False, max_length=SEARCH_MAX)
    access_group = forms.CharField(
        label="Access group",
        required=False,
        max_length=SEARCH_MAX,
        widget=forms.TextInput(attrs={"list": "filter-access-groups", "autocomplete": "off"}),
    )
    account = forms.CharField(
        label="Account",
        required=False,
        max_length=SEARCH_MAX,
        widget=forms.TextInput(attrs={"list": "filter-accounts", "autocomplete": "off"}),
    )

    def datalists(self) -> list[tuple[str, str]]:
        """(id, options) of the fields' datalists, kept per process (accessgroups.web.choices)."""
        return [("filter-access-groups", group_names()), ("filter-accounts", account_options())]

    def clean_user(self) -> User | None:
        username = _no_nul(self.cleaned_data["user"])
        if not username:
            return None
        found = User.objects.filter(username=username).first()
        if found is None:
            raise forms.ValidationError(f"No user {username!r}.")
        return found

    def clean_access_group(self) -> AccessGroup | None:
        wanted = _no_nul(self.cleaned_data["access_group"])
        if not wanted:
            return None
        live = AccessGroup.objects.live().only("id", "name")
        found = live.filter(pk=int(wanted)).first() if wanted.isdigit() else None
        found = found or live.filter(name=wanted).first()
        if found is None:
            raise forms.ValidationError(f"No access group {wanted!r}.")
        return found

    def clean_account(self) -> Account | None:
        wanted = _no_nul(self.cleaned_data["account"])
        if not wanted:
            return None
        found = Account.objects.filter(account_id=wanted).first()
        if found is None:
            raise forms.ValidationError(f"No account {wanted!r}.")
        return found

    def selector_filters(self) -> dict[str, Any]:
        """The keyword arguments of the selector (and, below, of the API's query)."""
        data = self.cleaned_data
        return {name: data[name] for name in ("user", "access_group", "account") if data.get(name)}

    def api_query(self) -> dict[str, str]:
        data = self.cleaned_data
        query: dict[str, str] = {}
        if data.get("user"):
            query["user"] = data["user"].username
        if data.get("access_group"):
            query["access_group"] = str(data["access_group"].pk)
        if data.get("account"):
            query["account"] = data["account"].account_id
        return query


def _moment_field(label: str, help_text: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        help_text=help_text,
        widget=moment_input(),
    )


class WhoHasAccessReportFilters(WhoHasAccessFilters):
    """The report's filters: those of the matrix, and an expiry bound and a past moment."""

    expiring_before = _moment_field("Expiring before (UTC)", "Only access that ends before then.")
    at = _moment_field("As of (UTC)", "Who had access then; empty for now.")

    def clean_at(self) -> datetime | None:
        at = self.cleaned_data["at"]
        if at is not None and at > timezone.now():
            raise forms.ValidationError("Give a moment in the past, or leave it empty for now.")
        return at

    def selector_filters(self) -> dict[str, Any]:
        found = super().selector_filters()
        for name in ("expiring_before", "at"):
            if self.cleaned_data.get(name):
                found[name] = self.cleaned_data[name]
        return found

    def api_query(self) -> dict[str, str]:
        query = super().api_query()
        for name in ("expiring_before", "at"):
            if self.cleaned_data.get(name):
                query[name] = self.cleaned_data[name].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return query


# The report's file formats, as the API names them; every one has the same columns.
EXPORT_FORMATS = (("csv", "Export CSV"), ("jsonl", "JSON Lines"), ("xlsx", "XLSX"))


def cursor_position(token: str | None, *, texts: int = 3) -> dict[str, tuple]:
    """``after`` or ``before`` and the row key a Next or Previous link's cursor carries
    (``texts`` strings and an id: ``accessgroups.reports.rows.read_cursor``); nothing (the
    first page) for a cursor that does not read."""
    if not token:
        return {}
    try:
        direction, key = read_cursor(token, texts=texts)
    except BadCursor:
        return {}
    return {direction: key}


def page_url(request: HttpRequest, *, drop: tuple[str, ...] = (), **position: str) -> str:
    """This page's URL with the same filters, without its page or cursor (and ``drop``),
    with ``position`` (a ``cursor``) if given."""
    query = request.GET.copy()
    for name in ("page", "cursor", *drop):
        query.pop(name, None)
    query.update(position)
    return f"{request.path}?{query.urlencode()}" if query else request.path


@require_GET
@login_required
def who_has_access(request: HttpRequest) -> HttpResponse:
    require_auditor(request.user)
    # Pages are found by the key of a row (a ``cursor``), not numbered: a numbered
    # link from before (``?page=3``) starts again at the first page.
    if request.GET.get("page") not in (None, "", "1"):
        return redirect(page_url(request))
    # Always bound: no filters at all is a valid (empty) filter.
    form = WhoHasAccessReportFilters(request.GET)
    page = KeysetPage(
        object_list=[], first_key=None, last_key=None, has_next=False, has_previous=False
    )
    exports: list[tuple[str, str]] = []
    if form.is_valid():
        page = who_has_access_rows(**form.selector_filters()).keyset_page(
            **cursor_position(request.GET.get("cursor")), size=REPORT_PAGE_SIZE
        )
        base = reverse("who-has-access-list")
        exports = [
            (f"{base}?{urlencode({'format': fmt, **form.api_query()})}", label)
            for fmt, label in EXPORT_FORMATS
        ]
    at = form.cleaned_data.get("at") if form.is_valid() else None
    # A filter that names nothing known lists nothing, rather than everything.
    return render(
        request,
        "accessgroups/reports/who_has_access.html",
        {
            "form": form,
            "page": page,
            "next_url": page_url(request, cursor=cursor_token(AFTER, page.last_key))
            if page.has_next
            else None,
            "previous_url": page_url(request, cursor=cursor_token(BEFORE, page.first_key))
            if page.has_previous
            else None,
            "exports": exports,
            "at": at,
            "rows_html": rows_html(page.object_list, at=at),
        },
        status=200 if form.is_valid() else 400,
    )


# --- audit log ------------------------------------------------------------------------------


class AuditLogFilters(forms.Form):
    action = forms.CharField(
        label="Action",
        required=False,
        max_length=column_max(AuditEvent, "action"),
        help_text="e.g. request.approved",
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    actor = forms.CharField(
        label="Actor", required=False, max_length=SEARCH_MAX, help_text="Username of who acted."
    )
    object_type = forms.ChoiceField(
        label="Object type",
        required=False,
        choices=lambda: [("", "Any type"), *object_type_choices()],
    )
    object_id = forms.CharField(
        label="Object id", required=False, max_length=column_max(AuditEvent, "object_id")
    )
    since = forms.DateField(
        label="Since", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_action(self) -> str:
        return _no_nul(self.cleaned_data["action"])

    def clean_actor(self) -> str:
        return _no_nul(self.cleaned_data["actor"])

    def clean_object_id(self) -> str:
        return _no_nul(self.cleaned_data["object_id"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Until is before since.")
        return data

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        for name, lookup in (
            ("action", "action"),
            ("actor", "actor_username"),
            ("object_type", "object_type"),
            ("object_id", "object_id"),
        ):
            if data.get(name):
                events = events.filter(**{lookup: data[name]})
        since, until = self.moments()
        if since:
            events = events.filter(created_at__gte=since)
        if until:
            events = events.filter(created_at__lte=until)
        return events

    def moments(self) -> tuple[datetime | None, datetime | None]:
        """Days are UTC days: since from the start of its day, until to the end of its day."""
        data = self.cleaned_data
        since = datetime.combine(data["since"], time.min, UTC) if data.get("since") else None
        until = datetime.combine(data["until"], time.max, UTC) if data.get("until") else None
        return since, until

    def api_query(self) -> dict[str, str]:
        data = self.cleaned_data
        query = {
            name: data[name]
            for name in ("action", "actor", "object_type", "object_id")
            if data.get(name)
        }
        # Exact moments, not dates: the export then means what the page shows, whatever
        # way the API reads a bare date.
        for name, moment in zip(("since", "until"), self.moments(), strict=True):
            if moment:
                query[name] = moment.isoformat()
        return query


def _filter_url(base: str, **query: str) -> str:
    return f"{base}?{urlencode(query)}"


def _value_text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value) or "none"
    if isinstance(value, dict):
        if value.keys() == {"from", "to"}:
            return f"{_value_text(value['from'])} → {_value_text(value['to'])}"
        return "; ".join(f"{k}: {_value_text(v)}" for k, v in value.items())
    return str(value)


def detail_lines(data: Any) -> list[tuple[str, str]]:
    """An event's data as (label, text) lines: ``{"version": {"from": 1, "to": 2}}`` reads
    ``version: 1 → 2``. The CSV export keeps the JSON."""
    if not data:
        return []
    if not isinstance(data, dict):
        return [("data", json.dumps(data))]
    return [(key.replace("_", " "), _value_text(value)) for key, value in data.items()]


@require_GET
@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    require_auditor(request.user)
    # Pages are found by an event's sequence (a ``cursor``), as on /reports/: a late page
    # costs what the first does, and no view counts the whole log. A numbered link from
    # before (``?page=3``) starts again at the newest events.
    if request.GET.get("page") not in (None, "", "1"):
        return redirect(page_url(request))
    form = AuditLogFilters(request.GET)
    events: list[AuditEvent] = []
    has_next = has_previous = False
    export_url = None
    if form.is_valid():
        events, has_next, has_previous = keyset_rows(
            form.filter(AuditEvent.objects.order_by("-sequence")).select_related(
                "access_group", "subject"
            ),
            ("sequence",),
            **cursor_position(request.GET.get("cursor"), texts=0),
            size=REPORT_PAGE_SIZE,
            descending=True,
        )
        export_url = (
            f"{reverse('audit-event-list')}?{urlencode({'format': 'csv', **form.api_query()})}"
        )
    names = object_names(events)
    base = reverse("web:audit-log")
    for event in events:
        event.kind_label = kind_label(event.object_type)
        event.object_name = names.get((event.object_type, event.object_id))
        event.object_url = _filter_url(
            base, object_type=event.object_type, object_id=event.object_id
        )
        event.actor_url = _filter_url(base, actor=event.actor_username)
        event.details = detail_lines(event.data)
    return render(
        request,
        "accessgroups/reports/audit_log.html",
        {
            "form": form,
            "events": events,
            # Newest first: the next page holds older events.
            "older_url": page_url(request, cursor=cursor_token(AFTER, (events[-1].sequence,)))
            if has_next
            else None,
            "newer_url": page_url(request, cursor=cursor_token(BEFORE, (events[0].sequence,)))
            if has_previous
            else None,
            "export_url": export_url,
            "actions": COMMON_ACTIONS,
            "rows_html": audit_rows_html(events),
        },
        status=200 if form.is_valid() else 400,
    )
