"""One query per request answers what the menu, the second-factor check and the approval
pages ask (accessgroups.auth.standing); it must agree with the rules asked one at a time."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from accessgroups.auth.mfa import has_second_factor
from accessgroups.auth.standing import NOBODY, Standing, standing
from accessgroups.core.roles import decides_anything
from accessgroups.models import AccessReview, ReviewItem
from accessgroups.reviews.selectors import may_see_reviews

pytestmark = pytest.mark.django_db


def _asked_one_at_a_time(user) -> Standing:
    return Standing(
        has_second_factor=has_second_factor(user),
        decides=decides_anything(user),
        reviews=may_see_reviews(user),
    )


def _request_of(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_standing_agrees_with_each_rule(
    make_user, make_group, readonly, bob, carol, dave, alice, grant, ic_group, linked, in_a_week
):
    # One person of each kind: named approver (bob), auditor (carol), admin (dave), approver
    # through an Identity Center group, a reviewer, one with a second factor, an inactive
    # admin, and a requester with nothing (alice).
    by_group = linked(make_user("grace"))
    readonly.approver_groups.set([ic_group("Leads", members=[by_group])])
    reviewer = make_user("rita")
    review = AccessReview.objects.create(
        access_group=readonly, opened_by=carol, deadline=in_a_week, on_deadline="flag"
    )
    ReviewItem.objects.create(
        review=review, membership=grant(alice, readonly), member=alice, reviewer=reviewer
    )
    keyed = make_user("kim")
    Authenticator.objects.create(
        user=keyed, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    gone = make_user("gone", is_portal_admin=True, is_active=False)
    people = [alice, bob, carol, dave, by_group, reviewer, keyed, gone]
    seen = {}
    for person in people:
        with CaptureQueriesContext(connection) as captured:
            found = standing(_request_of(person))
        assert len(captured) == 1
        assert found == _asked_one_at_a_time(person), person.username
        seen[person.username] = found
    # The cases are not all alike: each answer is True for someone and False for someone.
    assert seen["alice"] == Standing(False, False, False)
    assert seen["bob"].decides and seen["grace"].decides and seen["dave"].decides
    assert not seen["gone"].decides
    assert seen["rita"].reviews and seen["carol"].reviews and not seen["bob"].reviews
    assert seen["kim"].has_second_factor


def test_kept_for_the_request_and_for_its_user_only(alice, bob, readonly):
    request = _request_of(bob)
    assert standing(request).decides
    with CaptureQueriesContext(connection) as captured:
        assert standing(request).decides
    assert len(captured) == 0
    # Someone else signs in within the same request: asked again, for them.
    request.user = alice
    assert not standing(request).decides
    request.user = type("Anonymous", (), {"is_authenticated": False, "pk": None})()
    assert standing(request) is NOBODY


def test_a_signed_in_page_asks_once(client_for, alice, bob, readonly):
    # The session, the user, and who they are: nothing per menu item or per check.
    for person in (alice, bob):
        client = client_for(person)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/no-such-page/").status_code == 404
        assert len(captured) == 3, [q["sql"] for q in captured]
