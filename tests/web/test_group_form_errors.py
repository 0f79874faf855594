"""The access-group form reports every wrong field in one answer: the form's own shape
errors and the service's checks of each field together, in the summary and by each field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.models import AccessGroup

pytestmark = pytest.mark.django_db

FIVE_WRONG = {
    "name": "has space",
    "session_duration": "PT13H",
    "accounts": ["999999999999"],
    "approvers": ["nobody"],
    "inline_policy": "{not json",
}


def _form(**overrides) -> dict:
    data = {
        "name": "Deploy",
        "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "session_duration": "2 hours",
        "requestable": "on",
    }
    data.update(overrides)
    return data


def _errors(response) -> dict[str, list[str]]:
    assert response.status_code == 400
    return {field: list(errors) for field, errors in response.context["form"].errors.items()}


def test_five_wrong_fields_in_one_answer(client_for, dave, bob, sandbox):
    response = client_for(dave).post(reverse("web:manage-group-create"), _form(**FIVE_WRONG))
    errors = _errors(response)
    assert set(errors) == {"name", "session_duration", "accounts", "approvers", "inline_policy"}
    assert "between PT1H and PT12H" in " ".join(errors["session_duration"])
    assert "not valid JSON" in " ".join(errors["inline_policy"])
    page = response.content.decode()
    # The summary at the top counts and links them all; each is also beside its field.
    assert "Check the form: 5 problems." in page
    for field in FIVE_WRONG:
        assert f'<a href="#id_{field}' in page, field
        assert f'id="id_{field}_error"' in page, field
    assert not AccessGroup.objects.filter(name="Deploy").exists()


def test_service_errors_without_form_errors_are_by_their_field(client_for, dave, bob):
    response = client_for(dave).post(
        reverse("web:manage-group-create"),
        _form(name="has space", session_duration="PT13H", inline_policy="[1]", approvers=["bob"]),
    )
    assert set(_errors(response)) == {"name", "session_duration", "inline_policy"}


def test_the_edit_form_reports_all_at_once_too(client_for, dave, readonly):
    data = _form(
        session_duration="PT13H",
        accounts=["999999999999"],
        inline_policy="{not json",
        max_duration_hours="abc",
    )
    del data["name"]  # fixed once created: the edit form has no name
    response = client_for(dave).post(reverse("web:manage-group-edit", args=[readonly.pk]), data)
    errors = _errors(response)
    assert set(errors) == {"session_duration", "accounts", "inline_policy", "max_duration_hours"}
    readonly.refresh_from_db()
    assert readonly.session_duration == "PT1H"


def test_a_field_wrong_in_shape_is_reported_once(client_for, dave, bob):
    response = client_for(dave).post(
        reverse("web:manage-group-create"),
        _form(customer_managed_policies="a b c", approvers=["nobody"]),
    )
    errors = _errors(response)
    assert len(errors["customer_managed_policies"]) == 1 and len(errors["approvers"]) == 1
