"""Onboarding and deactivating users through the identity services."""

import pytest
from django.core.exceptions import ValidationError

from accessgroups.access.services import membership_grant
from accessgroups.identity.services import (
    user_deactivate,
    user_onboard,
)
from accessgroups.models import (
    AccessRequest,
    EndReason,
    Membership,
    User,
)


def test_onboard_user(dave):
    user = user_onboard(
        actor=dave, username="frank", email="Frank@Example.com", given_name="Frank", family_name="Smith", roles=["auditor"]
    )
    assert user.display_name == "Frank Smith" and user.is_auditor and not user.is_portal_admin
    assert not user.has_usable_password()
    with pytest.raises(ValidationError) as exc:
        user_onboard(actor=dave, username="frank2", email="frank@example.COM", given_name="F", family_name="S")
    assert "email" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        user_onboard(actor=dave, username="gina", email="gina@example.com", given_name="", family_name="S", roles=["root"])
    assert set(exc.value.message_dict) == {"given_name"}
    assert User.objects.filter(username__in=["frank2", "gina"]).count() == 0


def test_deactivation_revokes_everything(dave, alice, developers):
    membership = membership_grant(user=alice, access_group=developers, granted_by=dave, justification="y")
    user_deactivate(user=alice, actor=dave)
    membership.refresh_from_db()
    alice.refresh_from_db()
    assert not alice.is_active
    assert membership.end_reason == EndReason.DEACTIVATED
    assert not Membership.objects.active().exists()
    assert not AccessRequest.objects.open().exists()
