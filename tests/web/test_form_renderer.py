"""The form renderer writes inputs and text areas directly (accessgroups.web.form_renderer):
byte for byte what Django's own widget templates write, hostile values escaped the same."""

from __future__ import annotations

import datetime

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe

from accessgroups.web.form_renderer import WRITTEN, FormRenderer
from accessgroups.web.requester_forms import ApproveForm, CommentForm

HOSTILE = "\"><script>alert(1)</script>&amp;'x"
VALUES = [None, "", "plain", HOSTILE, mark_safe("<b>kept</b>"), 0, 7, 2.5, "multi\nline"]
ATTRS = [
    {},
    {"id": "id_x", "required": True, "disabled": False, "rows": 2},
    {"class": HOSTILE, "aria-describedby": "id_x_helptext", "data-n": 3},
    {"placeholder": mark_safe("a &amp; b"), "autofocus": True},
]
WIDGETS = [
    forms.TextInput,
    forms.HiddenInput,
    forms.NumberInput,
    forms.EmailInput,
    forms.URLInput,
    forms.PasswordInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.CheckboxInput,
    forms.Textarea,
]


def _both(widget: forms.Widget, value, attrs) -> tuple[str, str]:
    ours = widget.render("field", value, attrs=dict(attrs), renderer=FormRenderer())
    django = widget.render("field", value, attrs=dict(attrs), renderer=DjangoTemplates())
    return ours, django


@pytest.mark.parametrize("widget_class", WIDGETS, ids=lambda w: w.__name__)
def test_each_widget_writes_what_its_template_writes(widget_class):
    compared = 0
    for value in VALUES + [True, False, datetime.date(2026, 11, 30)]:
        for attrs in ATTRS:
            widget = widget_class()
            if isinstance(widget, forms.PasswordInput):
                widget = forms.PasswordInput(render_value=True)
            ours, django = _both(widget, value, attrs)
            assert ours == django, (value, attrs)
            compared += 1
    assert compared == 48
    # The widget's own template is one the renderer writes, not one it passes on.
    assert widget_class.template_name in WRITTEN


def test_hostile_values_are_escaped():
    html = forms.Textarea().render("c", HOSTILE, renderer=FormRenderer())
    assert "<script>" not in html and "&lt;script&gt;" in html
    html = forms.TextInput().render("c", HOSTILE, attrs={"title": HOSTILE}, renderer=FormRenderer())
    assert "<script>" not in html and html.count("&quot;&gt;&lt;script&gt;") == 2


def test_bound_fields_with_errors_and_prefixes_match():
    for form in (
        CommentForm(prefix="r7"),
        CommentForm(prefix="r7", data={"r7-comment": "x" * 5000}),
        ApproveForm(prefix="r9", data={"r9-comment": HOSTILE, "r9-access_group_version": "0"}),
    ):
        form.is_valid()
        for name in form.fields:
            field = form[name]
            ours = field.as_widget()
            form.renderer = DjangoTemplates()
            django = form[name].as_widget()
            form.renderer = FormRenderer()
            assert ours == django


def test_the_portal_renders_forms_with_it(settings):
    from django.forms.renderers import get_default_renderer

    assert settings.FORM_RENDERER == "accessgroups.web.form_renderer.FormRenderer"
    assert isinstance(get_default_renderer(), FormRenderer)


def test_other_templates_go_to_django():
    select = forms.Select(choices=[("a", HOSTILE), ("b", "B")])
    ours = select.render("s", "a", renderer=FormRenderer())
    assert ours == select.render("s", "a", renderer=DjangoTemplates())
    assert "<select" in ours and "&lt;script&gt;" in ours
