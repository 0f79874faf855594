"""Django's form renderer, with the one-line widgets written in Python.

Every approval card has a comment box, every confirmation page one, and the forms of the
catalogue and the reports a handful of inputs. Django renders each widget through a
template of its own (``django/forms/widgets/input.html`` and ``attrs.html``): a template
render per field, a tenth of the approval queue's time for its twenty comment boxes. This
renderer writes the ``<input>`` and ``<textarea>`` elements directly, byte for byte as those
templates do (tests/web/test_form_renderer.py holds the two to each other, widget by
widget); every other template (selects, lists, whole forms) goes to Django as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData, SafeString, mark_safe


def _value(value: Any) -> str:
    # ``{{ value|stringformat:'s' }}``: "%s", escaped unless it was safe already.
    return str(value) if isinstance(value, SafeData) else conditional_escape("%s" % (value,))


def _attrs(attrs: dict[str, Any]) -> str:
    # django/forms/widgets/attrs.html
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {conditional_escape(name)}")
        if value is not True:
            parts.append(f'="{_value(value)}"')
    return "".join(parts)


def _input(widget: dict[str, Any]) -> str:
    value = widget["value"]
    shown = f' value="{_value(value)}"' if value is not None else ""
    return (
        f'<input type="{conditional_escape(widget["type"])}" '
        f'name="{conditional_escape(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'
    )


def _textarea(widget: dict[str, Any]) -> str:
    value = widget["value"]
    shown = conditional_escape(value) if value else ""
    return (
        f'<textarea name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{shown}</textarea>"
    )


_INPUTS = (
    "checkbox color date datetime email file hidden number password search tel text time url"
).split()
WRITTEN: dict[str, Callable[[dict[str, Any]], str]] = {
    f"django/forms/widgets/{kind}.html": _input for kind in _INPUTS
}
WRITTEN["django/forms/widgets/textarea.html"] = _textarea


class FormRenderer(DjangoTemplates):
    """``FORM_RENDERER``: inputs and text areas written directly, the rest by templates."""

    def render(self, template_name: str, context: dict, request: Any = None) -> SafeString:
        write = WRITTEN.get(template_name)
        if write is None:
            return super().render(template_name, context, request)
        return mark_safe(write(context["widget"]))
