"""apply_access_groups with CHANGE_APPROVAL=required: each change of the file is proposed
as a change request for another admin, nothing is applied yet."""

from __future__ import annotations

import pytest

from accessgroups.models import AccessGroup, ChangeRequest
from tests.changes.helpers import exported, run, state, write

pytestmark = pytest.mark.django_db


def test_a_file_makes_change_requests(estate, tmp_path, settings):
    settings.CHANGE_APPROVAL = "required"
    document = exported()
    document["access_groups"][1]["session_duration"] = "PT2H"
    document["access_groups"].append(
        {"name": "Auditors", "aws_managed_policies": ["arn:aws:iam::aws:policy/SecurityAudit"], "approvers": ["erin"]}
    )
    path = write(tmp_path, document)
    before = state()

    result = run("apply_access_groups", path, "--actor", "dave")

    assert result.status == 0, result
    # The groups, accounts and policies as they were; the log holds the two proposals.
    assert state()[:3] == before[:3]
    assert state()[3] == before[3] + 2
    assert not AccessGroup.objects.filter(name="Auditors").exists()
    proposed = {(c.action, c.group_name, c.status) for c in ChangeRequest.objects.all()}
    assert proposed == {("update", "Developers", "pending"), ("create", "Auditors", "pending")}
    assert {c.proposed_by.username for c in ChangeRequest.objects.all()} == {"dave"}
    assert "Proposed 2 change request(s) (CHANGE_APPROVAL=required)" in result.out
    assert "Applied" not in result.out
