"""The plan step of the access group form: what saving would do, shown before it is done.

The first submit ("Review changes") shows the changes, the Identity Center work and who
gains or loses access (accessgroups.changes.preview); "Save" then saves exactly the fields
that were reviewed. A form changed after its review is reviewed again rather than saved, so
nobody saves a plan they have not seen. Works without JavaScript.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import forms
from django.http import HttpRequest

from accessgroups.changes.preview import change_preview
from accessgroups.models import AccessGroup, User

REVIEW, SAVE, TOKEN = "review", "save", "plan_token"


def plan_token(fields: dict[str, Any]) -> str:
    """A digest of the fields reviewed: Save saves only what was seen."""
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def needs_review(request: HttpRequest, fields: dict[str, Any]) -> bool:
    """Whether this submit shows the plan rather than saving.

    The form's own buttons always carry ``review`` or ``save``; a post with neither (a
    script) saves as before.
    """
    if REVIEW in request.POST:
        return True
    return SAVE in request.POST and request.POST.get(TOKEN) != plan_token(fields)


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(
            (v.get("path", "/") + v.get("name", "")) if isinstance(v, dict) else str(v) for v in value
        )
    if isinstance(value, dict):
        return "a policy document"
    return str(value)


def review(
    *, actor: User, form: forms.Form, fields: dict[str, Any], access_group: AccessGroup | None
) -> dict[str, Any]:
    """The template context of the plan step; raises what the service would refuse."""
    preview = change_preview(
        actor=actor,
        action="create" if access_group is None else "update",
        access_group=access_group,
        fields=fields,
    )
    rows = []
    for name, change in preview["changes"].items():
        field = form.fields.get(name)
        label = field.label if field is not None and field.label else name.replace("_", " ").capitalize()
        if name == "inline_policy":
            before, after = change["from"], change["to"]
            text = "added" if before is None else "removed" if after is None else "changed"
            rows.append({"label": label, "from": "", "to": text})
        else:
            rows.append({"label": label, "from": _shown(change["from"]), "to": _shown(change["to"])})
    return {"preview": preview, "change_rows": rows, "plan_token": plan_token(fields)}
