"""apply_access_groups refuses a file it cannot trust: exit status 1, every problem with
its place in the file on stderr, and not one row changed (audit log included)."""

from __future__ import annotations

import time

import pytest

from accessgroups.changes import yaml_config
from tests.changes.helpers import exported, run, state, write

pytestmark = pytest.mark.django_db


def refused(tmp_path, document, *args: str) -> str:
    path = write(tmp_path, document)
    before = state()
    started = time.monotonic()
    result = run("apply_access_groups", path, "--actor", "dave", *args)
    assert time.monotonic() - started < 10, "a hostile file must not hang the command"
    assert result.status == 1, result
    assert "Refused: nothing was changed" in result.err
    assert result.out == ""
    assert state() == before
    return result.err


def test_not_yaml(estate, tmp_path):
    err = refused(tmp_path, "version: 1\naccess_groups: [\n  {name: : x\n")
    assert "Not valid YAML (line" in err


def test_a_list_instead_of_a_mapping(estate, tmp_path):
    err = refused(tmp_path, "- name: Developers\n")
    assert "The file must be a mapping with version and access_groups, not a list." in err


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"access_groups": []}, "version: Say which schema"),
        ({"version": 2, "access_groups": []}, "version: Only version 1 is understood, not 2."),
        ({"version": True, "access_groups": []}, "version: Only version 1"),
        ({"version": 1}, "access_groups: List the access groups"),
        ("version: 1\naccess_groups:\n", "access_groups: List the access groups"),
        ({"version": 1, "access_groups": {"name": "x"}}, "access_groups: Give a list, not a mapping."),
        ({"version": 1, "access_groups": [], "extra": 1}, "extra: Unknown field"),
    ],
)
def test_the_top_level(estate, tmp_path, document, message):
    assert message in refused(tmp_path, document)


def test_every_problem_of_shape_is_listed_with_its_path(estate, tmp_path):
    document = exported()
    groups = document["access_groups"]
    groups[0]["colour"] = "blue"
    groups[0]["requestable"] = "yes"
    groups[1]["accounts"] = [111111111110, "111111111111"]
    groups[1]["max_duration_hours"] = 1.5
    groups[1]["customer_managed_policies"] = [{"name": "deploy", "arn": "x"}, "logs"]
    groups[2]["inline_policy"] = "not a mapping"
    groups.append({"description": "no name"})
    groups.append("a text")
    groups.append({"name": "billing"})  # Billing, in another case

    err = refused(tmp_path, document)

    for expected in (
        "access_groups[0].colour: Unknown field",
        "access_groups[0].requestable: Give true or false, not a text",
        "access_groups[1].accounts[0]: Give a text, not a number (write account ids in quotes).",
        "access_groups[1].max_duration_hours: Give a whole number of hours or null, not a decimal number.",
        "access_groups[1].customer_managed_policies[0].arn: Unknown field; use name and path.",
        "access_groups[1].customer_managed_policies[1]: Give a mapping with name and path, not a text.",
        "access_groups[2].inline_policy: Give the policy document as a mapping or null, not a text.",
        "access_groups[3].name: Every access group needs a name.",
        "access_groups[4]: Each access group is a mapping, not a text.",
        "access_groups[5].name: access_groups[0] has this name already.",
    ):
        assert expected in err, (expected, err)


def test_unknown_accounts_approvers_groups_and_units_are_pointed_at(estate, tmp_path, make_user):
    make_user("gone", is_active=False)
    document = exported()
    developers = document["access_groups"][1]
    developers["accounts"] = ["111111111110", "999999999999", "12345"]
    developers["approvers"] = ["bob", "gone", "nobody"]
    developers["approver_groups"] = ["Platform", "platform"]
    developers["eligible_groups"] = ["Nobody"]
    developers["organizational_units"] = ["ou-ab12-99999999"]

    err = refused(tmp_path, document)

    for expected in (
        "access_groups[1].accounts[1]: Unknown account 999999999999",
        "access_groups[1].accounts[2]: An AWS account id is exactly 12 digits; got '12345'.",
        "access_groups[1].approvers[1]: No active user named 'gone'.",
        "access_groups[1].approvers[2]: No active user named 'nobody'.",
        "access_groups[1].approver_groups[1]: No Identity Center group 'platform'",
        "access_groups[1].eligible_groups[0]: No Identity Center group 'Nobody'",
        "access_groups[1].organizational_units[0]: Unknown organizational unit ou-ab12-99999999",
    ):
        assert expected in err, (expected, err)
    # Each item once: the catalogue's own message for the whole field is not repeated.
    assert "access_groups[1].approvers: " not in err


def test_policies_the_portal_refuses(estate, tmp_path):
    document = exported()
    document["access_groups"][0]["inline_policy"] = {"Version": "2012-10-17"}
    document["access_groups"][0]["aws_managed_policies"] = ["arn:aws:iam::aws:policy/Nope Nope"]
    document["access_groups"].append(
        {"name": "Huge", "session_duration": "PT24H", "inline_policy": {"Statement": "x" * 40_000}}
    )

    err = refused(tmp_path, document)

    assert "access_groups[0].inline_policy: " in err
    assert "access_groups[0].aws_managed_policies: " in err
    assert "access_groups[3].session_duration: " in err
    assert "access_groups[3].inline_policy: " in err


def test_a_billion_laughs(estate, tmp_path):
    lines = ["version: 1", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 10):
        lines.append(f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 10)}]")
    lines.append("access_groups: [{name: Laughs, accounts: *a9}]")

    err = refused(tmp_path, "\n".join(lines) + "\n")

    assert "The file expands to more than" in err


def test_an_alias_that_contains_itself(estate, tmp_path):
    err = refused(tmp_path, "version: 1\naccess_groups: &loop [*loop]\n")
    assert "nests deeper than" in err


def test_deep_nesting(estate, tmp_path):
    err = refused(tmp_path, "version: 1\naccess_groups: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nests deeper than" in err


def test_a_huge_file(estate, tmp_path):
    padding = "# " + "x" * 1022 + "\n"
    err = refused(tmp_path, "version: 1\naccess_groups: []\n" + padding * (yaml_config.MAX_FILE_BYTES // 1024))
    assert "The file is larger than 5 MB." in err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The file is not UTF-8 text (byte 0)."),
        (b"version: 1\naccess_groups: []\n\x00", "The file contains a NUL character."),
        (b"version: 1\naccess_groups: [{name: \xff}]\n", "not UTF-8"),
        (b"version: !!python/object/apply:os.system ['true']\naccess_groups: []\n", "Not valid YAML"),
    ],
)
def test_binary_bytes_and_python_tags(estate, tmp_path, data, message):
    assert message in refused(tmp_path, data)


def test_a_missing_file(estate, tmp_path):
    result = run("apply_access_groups", str(tmp_path / "absent.yaml"), "--plan")
    assert result.status == 1
    assert "Cannot read the file" in result.err


def test_a_key_given_twice(estate, tmp_path):
    text = (
        "version: 1\naccess_groups:\n"
        "  - name: Developers\n    requestable: false\n    requestable: true\n"
    )

    err = refused(tmp_path, text)

    assert "access_groups[0].requestable: Given twice in one mapping (again on line 5)." in err
