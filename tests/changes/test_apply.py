"""manage.py apply_access_groups: export then apply changes nothing; creating, updating
and archiving through the catalogue, audited as the actor; --plan and its exit codes."""

from __future__ import annotations

import pytest

from accessgroups.changes.config import group_config
from accessgroups.models import AccessGroup, AuditEvent
from tests.changes.helpers import exported, run, state, write

pytestmark = pytest.mark.django_db


def test_export_then_apply_changes_nothing(estate, tmp_path, alice):
    path = write(tmp_path, exported())
    before = state()

    planned = run("apply_access_groups", path, "--plan")
    applied = run("apply_access_groups", path, "--actor", "dave")

    assert (planned.status, applied.status) == (0, 0), (planned, applied)
    assert "No changes" in planned.out and "No changes" in applied.out
    assert state() == before


def test_export_text_applied_as_is_changes_nothing(estate, tmp_path):
    from tests.changes.test_export import export

    path = write(tmp_path, export())  # the header comment and block texts as written
    before = state()

    assert run("apply_access_groups", path, "--plan", "--actor", "dave").status == 0
    assert state() == before


def test_plan_lists_each_change_and_changes_nothing(estate, tmp_path):
    document = exported()
    developers = document["access_groups"][1]
    developers["session_duration"] = "PT2H"
    developers["approvers"] = ["bob"]
    developers["approvals_required"] = 1
    document["access_groups"].append(
        {"name": "Auditors", "aws_managed_policies": ["arn:aws:iam::aws:policy/SecurityAudit"], "approvers": ["erin"]}
    )
    path = write(tmp_path, document)
    before = state()

    result = run("apply_access_groups", path, "--plan")

    assert result.status == 2, result
    assert "update Developers (access_groups[1])" in result.out
    assert '  session_duration: "PT4H" -> "PT2H"' in result.out
    assert '  approvers: ["bob", "erin"] -> ["bob"]' in result.out
    assert "create Auditors (access_groups[3])" in result.out
    assert "2 change(s) planned; nothing was changed." in result.out
    assert state() == before
    # With an actor the plan also runs the services' checks, in a transaction rolled back.
    checked = run("apply_access_groups", path, "--plan", "--actor", "dave")
    assert checked.status == 2, checked
    assert checked.out == result.out
    assert state() == before


def test_apply_creates_and_updates_audited_as_the_actor(estate, tmp_path):
    document = exported()
    document["access_groups"][1]["session_duration"] = "PT2H"
    document["access_groups"][1]["description"] = "Now shorter"
    document["access_groups"].append(
        {"name": "Auditors", "aws_managed_policies": ["arn:aws:iam::aws:policy/SecurityAudit"], "approvers": ["erin"]}
    )
    path = write(tmp_path, document)
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()

    result = run("apply_access_groups", path, "--actor", "dave")

    assert result.status == 0, result
    assert "Applied 2 change(s)." in result.out
    developers = AccessGroup.objects.get(name="Developers")
    assert (developers.session_duration, developers.description) == ("PT2H", "Now shorter")
    # The untouched fields are as they were.
    assert group_config(developers)["approvers"] == ["bob", "erin"]
    auditors = AccessGroup.objects.get(name="Auditors")
    assert group_config(auditors)["approvers"] == ["erin"]
    new_events = AuditEvent.objects.filter(sequence__gt=last)
    assert {e.action for e in new_events} == {"access_group.created", "access_group.updated"}
    assert {e.actor_username for e in new_events} == {"dave"}
    # Applying the same file again: nothing left to do.
    assert run("apply_access_groups", path, "--plan").status == 0


def test_groups_left_out_are_kept_unless_archive_missing(estate, tmp_path):
    document = exported()
    document["access_groups"] = [g for g in document["access_groups"] if g["name"] != "Billing"]
    path = write(tmp_path, document)

    kept = run("apply_access_groups", path, "--actor", "dave")

    assert kept.status == 0
    assert "Billing: not in the file (kept)" in kept.out
    assert AccessGroup.objects.live().filter(name="Billing").exists()

    planned = run("apply_access_groups", path, "--plan", "--archive-missing")
    assert planned.status == 2
    assert "archive Billing" in planned.out
    assert AccessGroup.objects.live().filter(name="Billing").exists()

    archived = run("apply_access_groups", path, "--actor", "dave", "--archive-missing")
    assert archived.status == 0, archived
    assert not AccessGroup.objects.live().filter(name="Billing").exists()
    assert AuditEvent.objects.filter(action="access_group.archived", actor_username="dave").exists()


def test_names_match_without_case_but_cannot_change(estate, tmp_path):
    document = exported()
    document["access_groups"][1]["name"] = "DEVELOPERS"
    path = write(tmp_path, document)
    before = state()

    result = run("apply_access_groups", path, "--actor", "dave")

    assert result.status == 1
    assert "access_groups[1].name: The portal's group is called 'Developers'" in result.err
    assert state() == before


def test_the_actor_must_be_an_active_admin(estate, tmp_path, bob, make_user):
    make_user("ex", is_portal_admin=True, is_active=False)
    document = exported()
    document["access_groups"][0]["description"] = "changed"
    path = write(tmp_path, document)
    before = state()

    for args in ((), ("--actor", "bob"), ("--actor", "ex"), ("--actor", "nobody")):
        result = run("apply_access_groups", path, *args)
        assert result.status == 1, (args, result)
        assert "--actor" in result.err
    assert state() == before


def test_a_change_the_services_refuse_rolls_back_every_change(estate, tmp_path):
    # The first change is fine, the second breaks the quorum (2 approvals, one approver):
    # only the service sees it, in the transaction, and nothing stays.
    document = exported()
    document["access_groups"][0]["description"] = "fine"
    document["access_groups"][1]["approvers"] = ["bob"]
    document["access_groups"][1]["approver_groups"] = []
    path = write(tmp_path, document)
    before = state()

    result = run("apply_access_groups", path, "--actor", "dave")

    assert result.status == 1, result
    assert "access_groups[1]" in result.err
    assert state() == before

    # --plan with an actor runs the same checks, and still changes nothing.
    planned = run("apply_access_groups", path, "--plan", "--actor", "dave")
    assert planned.status == 1
    assert state() == before



def test_the_plan_shows_the_identity_center_work_and_who_is_affected(estate, tmp_path, alice, grant):
    grant(alice, estate["Billing"])
    AccessGroup.objects.filter(pk=estate["Billing"].pk).update(
        permission_set_arn="arn:aws:sso:::permissionSet/ssoins-1/ps-1", identity_center_group_id="g-1"
    )
    document = exported()
    billing = document["access_groups"][0]
    billing["accounts"] = ["111111111110"]
    billing["session_duration"] = "PT2H"
    document["access_groups"] = [billing]
    path = write(tmp_path, document)

    result = run("apply_access_groups", path, "--plan", "--archive-missing")

    assert result.status == 2, result
    out = result.out
    assert "update Billing (access_groups[0])" in out
    assert "  - create 1 account assignment: acct-0 (111111111110)" in out
    assert "  - delete 1 account assignment: acct-2 (111111111112)" in out
    assert "  Impact: 1 member gains access to 1 account; 1 member loses access to 1 account." in out
    assert "archive Developers (not in the file)" in out
    assert "archive ReadOnly (not in the file)" in out
