"""The confirmation step of a destructive action, without JavaScript.

The list's button opens the action's own URL with GET, which shows what will happen and a
form that POSTs to the same URL; the POST acts, as it always did. So a script or a test
that POSTs directly keeps working, and nothing irreversible happens on one click.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def render_confirm(
    request: HttpRequest,
    *,
    title: str,
    consequence: str,
    button: str,
    back: str,
    facts: list[tuple[str, str]] = (),
    comment_form: forms.Form | None = None,
    comment_label: str = "Comment",
    status: int = 200,
) -> HttpResponse:
    """A page asking "title?", saying ``consequence``, listing ``facts`` (label, value), with
    ``button`` (which POSTs to this URL) and a link ``back``."""
    return render(
        request,
        "accessgroups/_confirm.html",
        {
            "title": title,
            "consequence": consequence,
            "button": button,
            "back": back,
            "facts": list(facts),
            "comment_form": comment_form,
            "comment_label": comment_label,
        },
        status=status,
    )
