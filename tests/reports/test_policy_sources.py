"""Who-has-access marks break-glass access, and names the approver who completed a quorum."""

from django.db.models import F

from accessgroups.access.services import access_request_approve, access_request_create
from accessgroups.models import AccessGroupAccount, Membership, ProvisioningStatus
from accessgroups.reports.selectors import who_has_access


def _confirmed() -> None:
    Membership.objects.update(
        provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=F("generation")
    )
    AccessGroupAccount.objects.update(provisioning_status=ProvisioningStatus.IN_SYNC)


def test_break_glass_access_is_reported_as_such(alice, make_group, sandbox):
    group = make_group("OnCall", accounts=[sandbox], break_glass=True)
    access_request_create(
        requester=alice,
        access_group=group,
        justification="production is down, incident 42",
        break_glass=True,
    )
    _confirmed()
    [row] = list(who_has_access())
    assert (row["username"], row["source"], row["approved_by"]) == ("alice", "break_glass", None)


def test_a_quorum_reports_its_last_approver(alice, bob, erin, make_group, sandbox):
    group = make_group("Prod", accounts=[sandbox], approvers=[bob, erin], approvals_required=2)
    request = access_request_create(requester=alice, access_group=group, justification="x")
    access_request_approve(access_request=request, approver=bob)
    access_request_approve(access_request=request, approver=erin)
    _confirmed()
    [row] = list(who_has_access())
    assert (row["source"], row["approved_by"]) == ("request", "erin")
