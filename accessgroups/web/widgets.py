"""A list of checkboxes with a filter box, for choosing several of many (accounts, approvers,
OUs, Identity Center groups): ticking is plainer than Ctrl-clicking a ``<select multiple>``.

Without JavaScript it is a scrolling list of checkboxes; ``static/js/checklist.js`` adds a
filter input that hides the options that do not match. The markup is one short line per
option, written by one template rather than one template per option, so that a page with
500+ accounts stays light and quick to render.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.renderers import TemplatesSetting

# The project's template directories (the default form renderer only sees Django's own and
# the apps' templates).
_RENDERER = TemplatesSetting()


class CheckboxFilterList(forms.CheckboxSelectMultiple):
    template_name = "accessgroups/widgets/checklist.html"

    def id_for_label(self, id_: str, index: str | None = None) -> str:
        # The list itself: the error summary's link for the field leads to it.
        return id_ if index is None else super().id_for_label(id_, index)

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        return super().render(name, value, attrs, renderer=_RENDERER)
