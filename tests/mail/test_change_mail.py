"""A proposed change of an access group mails the other admins, once, with a link to it."""

from __future__ import annotations

from django.core import mail

from accessgroups.changes.services import change_propose, change_withdraw
from accessgroups.mail.changes import change_proposed_send
from tests.mail.helpers import html_of


def test_the_other_admins_are_told(committed, make_user, dave, developers):
    make_user("frank", is_portal_admin=True)
    make_user("gina", is_portal_admin=True, is_active=False)
    mail.outbox.clear()
    with committed():
        change = change_propose(
            actor=dave,
            action="update",
            access_group=developers,
            fields={"description": "<script>"},
            comment="tidy up",
        )
    assert [m.to for m in mail.outbox] == [["frank@example.com"]]
    message = mail.outbox[0]
    assert message.subject == "Change proposed: change Developers, by dave"
    assert f"/manage/change-requests/{change.pk}/" in message.body
    assert "tidy up" in message.body
    assert "<script>" not in html_of(message)
    # Sent again (a retried task): nobody gets it twice.
    assert change_proposed_send(change_id=change.pk) == 0


def test_nothing_once_it_is_withdrawn(committed, make_user, dave, developers):
    make_user("frank", is_portal_admin=True)
    change = change_propose(actor=dave, action="archive", access_group=developers)
    change_withdraw(actor=dave, change_request=change)
    assert change_proposed_send(change_id=change.pk) == 0
