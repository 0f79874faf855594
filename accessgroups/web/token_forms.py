"""Forms of the API tokens pages. They check shapes; accessgroups.auth.tokens and
accessgroups.identity.services decide, and ``show_refusal`` puts their errors back here."""

from __future__ import annotations

from django import forms

from accessgroups.auth.tokens import NAME_MAX, default_days, max_days
from accessgroups.core.roles import ROLES
from accessgroups.models import User


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX,
        help_text="What will use it: a script, a machine, a pipeline.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Built when the form is made: the limit is a setting, read where it is used.
        limit = max_days()
        self.fields["days"] = forms.IntegerField(
            label="Expires in (days)",
            min_value=1,
            max_value=limit,
            initial=default_days(),
            help_text=f"At most {limit} days.",
            error_messages={
                "min_value": "At least 1 day.",
                "max_value": f"At most {limit} days: tokens expire within API_TOKEN_MAX_DAYS.",
            },
        )


class ServiceAccountTokenForm(ApiTokenForm):
    user = forms.ModelChoiceField(
        label="Service account",
        queryset=User.objects.filter(is_service_account=True, is_active=True).order_by("username"),
        empty_label=None,
    )
    field_order = ["user", "name", "days"]


class ServiceAccountForm(forms.Form):
    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="Letters, digits and @ . + - _ only (ASCII).",
    )
    display_name = forms.CharField(label="Description", max_length=128, required=False)
    roles = forms.MultipleChoiceField(
        label="Roles",
        choices=[(role, role) for role in ROLES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Without a role it may do what any signed-in user may.",
    )
