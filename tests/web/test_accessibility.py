"""The new and changed pages keep to the basics without a browser: every form control has a
label (or an aria-label), ids are unique, and the page has one h1. The browser tests
(test_confirm_browser.py) check the focus ring and its contrast."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from accessgroups.access import services
from accessgroups.core.audit import audit_record

pytestmark = pytest.mark.django_db


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str]] = []
        self.h1 = 0
        self._label_depth = 0
        self.wrapped: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "h1":
            self.h1 += 1
        if tag == "label":
            self._label_depth += 1
            if "for" in attrs:
                self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            (self.wrapped if self._label_depth else self.controls).append(attrs)

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def _check(html: str) -> None:
    page = _Page()
    page.feed(html)
    assert page.h1 == 1
    duplicates = [i for i, n in Counter(page.ids).items() if n > 1]
    assert not duplicates, duplicates
    unlabelled = [
        c
        for c in page.controls
        if c.get("id") not in page.label_for
        and not c.get("aria-label")
        and not c.get("aria-labelledby")
    ]
    assert not unlabelled, unlabelled


def test_the_new_pages_label_every_control(client_for, alice, bob, carol, dave, readonly, grant):
    from datetime import timedelta

    from django.utils import timezone

    membership = grant(alice, readonly, expires_at=timezone.now() + timedelta(hours=1))
    request = services.access_request_create(
        requester=alice, access_group=readonly, justification="x", duration_hours=2
    )
    audit_record(action="user.onboarded", actor=dave, obj=alice, data={"a": 1})
    pages = [
        (bob, reverse("web:approvals")),
        (bob, reverse("web:approvals-access")),
        (bob, reverse("web:approvals-decisions")),
        (bob, reverse("web:request-reject", args=[request.pk])),
        (bob, reverse("web:approvals-revoke", args=[membership.pk])),
        (alice, reverse("web:request-cancel", args=[request.pk])),
        (alice, reverse("web:my-access-revoke", args=[membership.pk])),
        (carol, reverse("web:audit-log")),
        (carol, reverse("web:audit-log") + "?since=nonsense"),
        (dave, reverse("web:manage-user-deactivate", args=[bob.pk])),
        (dave, reverse("web:manage-group-create")),
    ]
    for user, url in pages:
        response = client_for(user).get(url)
        assert response.status_code in (200, 400), url
        _check(response.content.decode())
