"""Write the live access groups as configuration: ``manage.py export_access_groups
[--format yaml|terraform] [--output FILE]``.

yaml (the default) is the file ``apply_access_groups`` reads back; terraform is a
``terraform.tfvars.json`` for the aws-ia iam-identity-center module. Both read only the
database (docs/configuration-as-code.md).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from accessgroups.changes.terraform import terraform_json
from accessgroups.changes.yaml_config import export_yaml

FORMATS = {"yaml": export_yaml, "terraform": terraform_json}


class Command(BaseCommand):
    help = "Write the live access groups as YAML (or Terraform input) to stdout or a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=sorted(FORMATS), default="yaml")
        parser.add_argument("--output", metavar="FILE", help="Write to FILE instead of stdout.")

    def handle(self, *args, format: str = "yaml", output: str | None = None, **options) -> None:
        text = FORMATS[format]()
        if output:
            with open(output, "w", encoding="utf-8") as out:
                out.write(text)
        else:
            self.stdout.write(text, ending="")
