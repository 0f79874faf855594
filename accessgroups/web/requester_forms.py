"""Forms of the requester and approver pages. They check shapes only; the rules are in
accessgroups.access.services, whose errors are put back on these forms by ``show_refusal``."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from accessgroups.core.errors import Conflict
from accessgroups.core.limits import HOURS_MAX, TEXT_MAX
from accessgroups.models import AccessGroup

# The same bounds as the API's serializers.


def moment_input() -> forms.DateTimeInput:
    """The browser's date and time picker; it sends "2026-03-01T09:30" (the portal's times are UTC)."""
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class AccessRequestForm(forms.Form):
    justification = forms.CharField(
        label="Justification",
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"What you will do with this access, and why you need it (up to {TEXT_MAX:,} characters).",
        # Only spaces are stripped to nothing: say what is missing, not "required".
        error_messages={"required": "Say why you need this access."},
    )
    duration_hours = forms.IntegerField(
        label="Duration (hours)",
        min_value=1,
        max_value=HOURS_MAX,
        required=False,
        help_text="Leave empty for access that does not expire.",
    )
    starts_at = forms.DateTimeField(
        label="Start (UTC)",
        required=False,
        widget=moment_input(),
        help_text="Leave empty to start as soon as it is approved; at most 30 days ahead. The "
        "duration counts from the start.",
    )

    def __init__(self, *args, access_group: AccessGroup, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = access_group.max_duration_hours
        if limit is not None:
            # The group's maximum makes the duration required and bounded (the service
            # checks the same; the form says so before the request is sent).
            self.fields["duration_hours"] = forms.IntegerField(
                label="Duration (hours)",
                min_value=1,
                max_value=limit,
                help_text=f"Required: at most {limit} hours.",
            )
        if access_group.break_glass:
            # Break-glass has its own limit (accessgroups.access.break_glass): the service
            # asks for a duration only when the request is not break-glass.
            self.fields["duration_hours"].required = False
            self.fields["break_glass"] = forms.BooleanField(
                label="Break-glass: an emergency, grant it now",
                required=False,
                help_text="Access at once, for a few hours, without waiting for approval. Every "
                "approver and admin is told, and an approver reviews it afterwards. Give a "
                "justification of at least 20 characters.",
            )


class CommentForm(forms.Form):
    comment = forms.CharField(
        label="Comment",
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ApproveForm(CommentForm):
    """The approval card's form: its comment, and the group's version the card showed."""

    access_group_version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


def show_refusal(form: forms.Form, error: ValidationError | Conflict) -> None:
    """Put a service's refusal on the form: by the field it names, else above the form."""
    if isinstance(error, Conflict):
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)
