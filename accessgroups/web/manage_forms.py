"""Forms of the admin pages. They check shapes only (lengths, numbers, one item per line);
the rules live in the catalogue and identity services, whose field-keyed errors ``show_refusal``
puts back by the field they name."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from accessgroups.catalogue.risk import suggested_risk
from accessgroups.core.limits import (
    ACCOUNT_ID_INPUT_MAX,
    GROUP_NAME_INPUT_MAX,
    HOURS_MAX,
    POLICY_TEXT_MAX,
    TEXT_MAX,
    column_max,
)
from accessgroups.core.roles import ROLES
from accessgroups.core.validators import parse_session_duration
from accessgroups.directory.services import GROUP_FIELDS, identity_center_groups_nameable
from accessgroups.models import APPROVALS_REQUIRED_MAX, AccessGroup, Account, PolicyKind, Risk, User
from accessgroups.organizations.selectors import organizational_unit_choices
from accessgroups.web.widgets import CheckboxFilterList


class AccountForm(forms.Form):
    account_id = forms.CharField(
        label="Account id", max_length=ACCOUNT_ID_INPUT_MAX, help_text="12 digits."
    )
    name = forms.CharField(label="Name", max_length=column_max(Account, "name"))
    email = forms.CharField(label="Email", max_length=column_max(Account, "email"), required=False)


class OnboardForm(forms.Form):
    username = forms.CharField(label="Username", max_length=column_max(User, "username"))
    email = forms.CharField(label="Email", max_length=column_max(User, "email"))
    # Required by the service when the portal creates the Identity Center user
    # (IDENTITY_SOURCE=identity_center); an external identity provider owns them otherwise.
    given_name = forms.CharField(
        label="Given name", max_length=column_max(User, "given_name"), required=False
    )
    family_name = forms.CharField(
        label="Family name", max_length=column_max(User, "family_name"), required=False
    )
    display_name = forms.CharField(
        label="Display name",
        max_length=column_max(User, "display_name"),
        required=False,
        help_text="Empty: given and family name.",
    )
    roles = forms.MultipleChoiceField(
        label="Roles",
        required=False,
        choices=[(role, role.capitalize()) for role in ROLES],
        widget=forms.CheckboxSelectMultiple,
        help_text="Everyone can request access; these add auditing or administration.",
    )
    external_id = forms.CharField(
        label="External id",
        max_length=column_max(User, "external_id"),
        required=False,
        help_text="The identity provider's id of the person (OIDC sub, SAML NameID, SCIM "
        "externalId). Needed when the portal matches users by external id.",
    )


# "4 hours", "1 hour 30 minutes", "90 min", "4h": how people write a session duration.
_WORDS = re.compile(r"(\d+)\s*(h|hours?|m|min|mins|minutes?)(?![a-z])", re.IGNORECASE)
_JOINERS = re.compile(r"[\s,]*(?:and[\s,]*)*", re.IGNORECASE)


def iso_duration(text: str) -> str:
    """``4 hours`` → ``PT4H``, ``90 minutes`` → ``PT1H30M``; anything else unchanged (the
    service then says what it accepts)."""
    stripped = (text or "").strip()
    parts = _WORDS.findall(stripped)
    if not parts or not _JOINERS.fullmatch(_WORDS.sub(" ", stripped)):
        return stripped
    minutes = sum(int(n) * (60 if unit.lower().startswith("h") else 1) for n, unit in parts)
    if not minutes:
        return stripped
    hours, rest = divmod(minutes, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest else "")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class AccessGroupForm(forms.Form):
    """Every field of an access group. ``name`` only exists when the group is created:
    Identity Center cannot rename a permission set."""

    name = forms.CharField(
        label="Name",
        max_length=GROUP_NAME_INPUT_MAX,
        help_text="Letters, digits and +=,.@_- (up to 32); fixed once created.",
    )
    description = forms.CharField(
        label="Description",
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    accounts = forms.MultipleChoiceField(
        label="Accounts",
        required=False,
        widget=CheckboxFilterList,
        help_text="The AWS accounts this group grants access to.",
    )
    organizational_units = forms.MultipleChoiceField(
        label="Organizational units",
        required=False,
        widget=CheckboxFilterList,
        help_text="Also every active account under these OUs, recursively, as AWS Organizations "
        "was last read; accounts follow the OUs at each sync.",
    )
    aws_managed_policies = forms.CharField(
        label="AWS managed policies",
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One ARN per line, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess.",
    )
    customer_managed_policies = forms.CharField(
        label="Customer managed policies",
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='One per line: "path name" (e.g. "/team/ DeployPolicy"), or just the name for path /. '
        "Each must exist in every account.",
    )
    inline_policy = forms.CharField(
        label="Inline policy",
        required=False,
        max_length=POLICY_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="A JSON policy document; empty for none.",
    )
    session_duration = forms.CharField(
        label="Session duration",
        # Room for words ("1 hour 30 minutes"); what is stored is ISO 8601 and checked by
        # the service against the column.
        max_length=4 * column_max(AccessGroup, "session_duration"),
        initial="1 hour",
        help_text='From 1 to 12 hours: "4 hours", "1 hour 30 minutes" or ISO 8601 (PT4H).',
    )
    approvers = forms.MultipleChoiceField(
        label="Approvers", required=False, widget=CheckboxFilterList
    )
    approver_groups = forms.MultipleChoiceField(
        label="Approver groups",
        required=False,
        widget=CheckboxFilterList,
        help_text="Identity Center groups whose members approve, as of the last refresh.",
    )
    eligible_groups = forms.MultipleChoiceField(
        label="Eligible groups",
        required=False,
        widget=CheckboxFilterList,
        help_text="Only members of these Identity Center groups may request; none: everyone.",
    )
    requestable = forms.BooleanField(
        label="Requestable",
        required=False,
        initial=True,
        help_text="Shown in the catalogue; people can ask for it.",
    )
    max_duration_hours = forms.IntegerField(
        label="Maximum duration (hours)",
        required=False,
        min_value=1,
        max_value=HOURS_MAX,
        help_text="The longest grant a request may ask for; empty for no limit.",
    )
    applications_note = forms.CharField(
        label="Applications",
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Applications this group opens, noted by hand (no API attaches them).",
    )
    # Approval policies (accessgroups.access.policies).
    approvals_required = forms.IntegerField(
        label="Approvals required",
        required=False,
        min_value=1,
        max_value=APPROVALS_REQUIRED_MAX,
        initial=1,
        help_text="Distinct approvers each request needs; at most the number of approvers named.",
    )
    auto_approve = forms.BooleanField(
        label="Approve automatically",
        required=False,
        help_text="The portal approves requests within the group's limits at once (one "
        "approval, not high risk).",
    )
    break_glass = forms.BooleanField(
        label="Allow break-glass",
        required=False,
        help_text="In an emergency a requester takes access at once, for a few hours; approvers "
        "and admins are told, and an approver reviews it afterwards.",
    )
    risk = forms.ChoiceField(
        label="Risk",
        required=False,
        choices=[("", "As the portal suggests"), *Risk.choices],
        help_text="High: every approval needs a comment, and requests are marked high risk.",
    )

    def __init__(self, *args: Any, access_group: AccessGroup | None = None, **kwargs: Any) -> None:
        data = args[0] if args else kwargs.get("data")
        if access_group is not None and data is None:
            kwargs["initial"] = initial_for(access_group)
        super().__init__(*args, **kwargs)
        self.access_group = access_group
        if access_group is not None:
            del self.fields["name"]
        self.fields["accounts"].choices = [
            (a.account_id, a.label)
            for a in Account.objects.only("account_id", "name", "ou_path").order_by("name", "account_id")
        ]
        self.fields["approvers"].choices = [
            (u.username, u.username if not u.display_name else f"{u.display_name} ({u.username})")
            for u in User.objects.filter(is_active=True)
            .only("username", "display_name")
            .order_by("username")
        ]
        self.fields["organizational_units"].choices = organizational_unit_choices()
        names = list(identity_center_groups_nameable().values_list("display_name", flat=True))
        for name in GROUP_FIELDS:
            self.fields[name].choices = [(n, n) for n in names]
        if access_group is not None:
            suggestion = suggested_risk(access_group)
            self.fields["risk"].choices = [("", "Unchanged"), *Risk.choices]
            self.fields["risk"].help_text += f" The portal suggests {suggestion} for these policies."

    def clean_customer_managed_policies(self) -> list[dict[str, str]]:
        policies = []
        for line in _lines(self.cleaned_data["customer_managed_policies"]):
            parts = line.split()
            if len(parts) == 1:
                policies.append({"path": "/", "name": parts[0]})
            elif len(parts) == 2:
                policies.append({"path": parts[0], "name": parts[1]})
            else:
                raise forms.ValidationError(f'Write "path name" or just the name; got {line!r}.')
        return policies

    def clean_session_duration(self) -> str:
        value = iso_duration(self.cleaned_data["session_duration"])
        if self.access_group is not None:
            # The same length written another way (PT90M shown as "1 hour 30 minutes") is
            # no change.
            current = self.access_group.session_duration
            duration = parse_session_duration(value)
            if duration is not None and duration == parse_session_duration(current):
                return current
        return value

    def clean_aws_managed_policies(self) -> list[str]:
        return _lines(self.cleaned_data["aws_managed_policies"])

    def clean_inline_policy(self) -> str | None:
        # The service parses and checks the JSON, naming this field when it is wrong.
        return self.cleaned_data["inline_policy"].strip() or None

    def service_fields(self) -> dict[str, Any]:
        """The cleaned form as configuration.access_group_create/update take it; of a form
        with errors, the fields it accepted."""
        fields = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        # Left empty: a new group takes the defaults (risk: the portal's suggestion), a
        # changed one keeps what it has.
        if not fields.get("risk"):
            fields.pop("risk", None)
        if fields.get("approvals_required") is None:
            fields.pop("approvals_required", None)
        return fields


def initial_for(group: AccessGroup) -> dict[str, Any]:
    """The form's values for an existing group (its current accounts and policies)."""
    managed, customer, inline = [], [], ""
    for policy in group.current_policies():
        if policy.kind == PolicyKind.AWS_MANAGED:
            managed.append(policy.arn)
        elif policy.kind == PolicyKind.CUSTOMER_MANAGED:
            customer.append(f"{policy.path} {policy.name}")
        else:
            inline = json.dumps(policy.document, indent=2)
    return {
        "description": group.description,
        # The accounts listed by hand: those an OU brings follow the OU, not the list.
        "accounts": list(
            group.account_links.filter(valid_to__isnull=True, explicit=True).values_list(
                "account__account_id", flat=True
            )
        ),
        "organizational_units": list(group.organizational_units.values_list("ou_id", flat=True)),
        "aws_managed_policies": "\n".join(managed),
        "customer_managed_policies": "\n".join(customer),
        "inline_policy": inline,
        "session_duration": group.session_duration_label,
        "approvers": list(group.approvers.values_list("username", flat=True)),
        **{f: list(getattr(group, f).values_list("display_name", flat=True)) for f in GROUP_FIELDS},
        "requestable": group.requestable,
        "max_duration_hours": group.max_duration_hours,
        "applications_note": group.applications_note,
        "approvals_required": group.approvals_required,
        "auto_approve": group.auto_approve,
        "break_glass": group.break_glass,
        "risk": group.risk,
    }
