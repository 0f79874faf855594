"""Running apply_access_groups as a script would, and what it left behind."""

from __future__ import annotations

import io
from dataclasses import dataclass

import yaml
from django.core.management import call_command

from accessgroups.models import AccessGroup, AccessGroupAccount, AccessGroupPolicy, AuditEvent


@dataclass
class Run:
    status: int
    out: str
    err: str


def run(command: str, *args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return Run(status, out.getvalue(), err.getvalue())


def exported() -> dict:
    out = io.StringIO()
    call_command("export_access_groups", stdout=out)
    return yaml.safe_load(out.getvalue())


def write(tmp_path, document, name: str = "groups.yaml"):
    path = tmp_path / name
    if isinstance(document, bytes):
        path.write_bytes(document)
    elif isinstance(document, str):
        path.write_text(document, encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def state() -> tuple:
    """Every row a refused or planned run must leave as it was."""
    return (
        sorted(AccessGroup.objects.values_list("id", "name", "archived_at", "version", "description")),
        AccessGroupAccount.objects.count(),
        AccessGroupPolicy.objects.filter(valid_to__isnull=True).count(),
        AuditEvent.objects.count(),
    )
