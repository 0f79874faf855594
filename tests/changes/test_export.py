"""manage.py export_access_groups: the YAML file of the live access groups."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command

from accessgroups.changes.config import CONFIG_FIELDS
from tests.changes.estate import DESCRIPTION, INLINE

pytestmark = pytest.mark.django_db


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_access_groups", *args, stdout=out)
    return out.getvalue()


def test_the_file_holds_every_live_group_with_every_field(estate):
    text = export()

    assert text.startswith("# Access groups of the access portal")
    document = yaml.safe_load(text)
    assert document["version"] == 1
    groups = {g["name"]: g for g in document["access_groups"]}
    assert list(groups) == ["Billing", "Developers", "ReadOnly"]  # not the archived Old
    for group in groups.values():
        assert list(group) == list(CONFIG_FIELDS)
    assert groups["Developers"] == {
        "name": "Developers",
        "description": DESCRIPTION.strip(),
        "session_duration": "PT4H",
        "accounts": ["111111111110", "111111111111"],  # the OU's account is not listed
        "organizational_units": ["ou-ab12-11111111"],
        "aws_managed_policies": [
            "arn:aws:iam::aws:policy/PowerUserAccess",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ],
        "customer_managed_policies": [{"name": "logs", "path": "/"}, {"name": "deploy", "path": "/team/"}],
        "inline_policy": INLINE,
        "approvers": ["bob", "erin"],
        "approver_groups": ["Platform"],
        "eligible_groups": ["Engineering"],
        "requestable": True,
        "max_duration_hours": 8,
        "applications_note": "Grafana (attached by hand)",
        "approvals_required": 2,
        "auto_approve": False,
        "break_glass": True,
        "risk": "high",
    }
    assert groups["Billing"]["auto_approve"] is True
    assert groups["ReadOnly"]["requestable"] is False
    assert groups["ReadOnly"]["max_duration_hours"] is None


def test_texts_of_several_lines_are_written_as_blocks(estate):
    text = export()

    assert "description: |-\n      Builds things — für Entwickler 🚀\n" in text
    # Account ids stay texts: quoted, so a reader keeps leading zeros.
    assert "- '111111111110'" in text


def test_output_writes_a_file(estate, tmp_path):
    target = tmp_path / "groups.yaml"

    assert export("--output", str(target)) == ""

    assert yaml.safe_load(target.read_text(encoding="utf-8"))["version"] == 1


def test_no_groups_is_an_empty_list(db):
    assert yaml.safe_load(export()) == {"version": 1, "access_groups": []}


def test_queries_do_not_grow_with_the_groups(estate, dave, django_assert_max_num_queries):
    from accessgroups.catalogue.services import access_group_create

    with django_assert_max_num_queries(12) as few:
        export()
    for n in range(5):
        access_group_create(actor=dave, name=f"More{n}", approvers=["bob"], accounts=["111111111110"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        export()


def test_the_example_in_the_docs_is_a_file_apply_reads():
    from pathlib import Path

    from accessgroups.changes.yaml_config import load, parse

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "access-groups.yaml"
    entries = parse(load(example.read_bytes()))
    assert [e["name"] for e in entries] == ["Billing", "Developers", "ReadOnly"]
    assert all(list(e) == list(CONFIG_FIELDS) for e in entries)
