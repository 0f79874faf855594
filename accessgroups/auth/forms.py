"""Sign-in forms: allauth's, with the limits the portal's own forms have."""

from __future__ import annotations

from allauth.account import forms as account_forms
from django.core.validators import MaxLengthValidator

from accessgroups.core.limits import column_max
from accessgroups.models import User

# A username or an email address: nothing longer names anyone. Without a cap the look-up
# reaches the database, and SQLite refuses a case-insensitive match on a pattern this long
# ("LIKE or GLOB pattern too complex") with a 500.
LOGIN_MAX = max(column_max(User, "username"), column_max(User, "email"))


class LoginForm(account_forms.LoginForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["login"]
        field.max_length = LOGIN_MAX
        field.validators.append(MaxLengthValidator(LOGIN_MAX))
        field.widget.attrs["maxlength"] = str(LOGIN_MAX)
