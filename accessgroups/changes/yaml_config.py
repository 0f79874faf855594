"""Access groups as a YAML file: written by the export, read back by apply.

The file (docs/configuration-as-code.md) is ``{version: 1, access_groups: [{name, ...}]}``
with the fields of CONFIG_FIELDS, as the REST API takes them. Reading it checks only the
file's own shape (which keys, which types); whether the accounts, approvers and policies
are acceptable is the catalogue's to say (accessgroups.changes.apply).

The file may come from anyone who can open a pull request, so it is read defensively: a
size limit before parsing, UTF-8 only, ``yaml.safe_load`` (plain data, no Python objects),
and a walk with a budget after loading, since aliases can make a small file expand into a
huge (or endless) structure.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from django.utils import timezone

from accessgroups.changes.config import CONFIG_FIELDS, group_configs

VERSION = 1
MAX_FILE_BYTES = 5 * 1024 * 1024
# Values (scalars, lists, mappings) in the loaded file, aliases counted each time they are
# used; a real file of a few hundred groups has tens of thousands.
MAX_NODES = 500_000
MAX_DEPTH = 64

_TEXT = ("name", "description", "session_duration", "applications_note", "risk")
_SWITCHES = ("requestable", "auto_approve", "break_glass")
_NAME_LISTS = (
    "accounts",
    "organizational_units",
    "aws_managed_policies",
    "approvers",
    "approver_groups",
    "eligible_groups",
)

HEADER = """\
# Access groups of the access portal, as configuration.
# Exported {moment}. Schema: docs/configuration-as-code.md (version 1).
# Edit, then review what would change and apply it as an admin:
#   manage.py apply_access_groups FILE --plan
#   manage.py apply_access_groups FILE --actor USERNAME
# Groups are matched by name; a name cannot be changed. Groups left out are kept
# unless --archive-missing is given.
"""


@dataclass(frozen=True)
class Problem:
    """Something wrong with the file, at a path such as ``access_groups[2].accounts[1]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigFileError(Exception):
    """The file cannot be used; ``problems`` says every reason found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(map(str, self.problems)))


# --- writing --------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes texts of several lines as blocks, readable in a review."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Lists indented under their key, as people write them.
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def export_document(configs: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The file's content: the live groups (or ``configs``), fields in CONFIG_FIELDS order."""
    if configs is None:
        configs = (config for _, config in group_configs())
    return {
        "version": VERSION,
        "access_groups": [{field: config[field] for field in CONFIG_FIELDS} for config in configs],
    }


def export_yaml(configs: Iterable[dict[str, Any]] | None = None) -> str:
    """The YAML file of the live access groups, with its header."""
    body = yaml.dump(
        export_document(configs),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return HEADER.format(moment=f"{timezone.now():%Y-%m-%dT%H:%M:%SZ}") + body


# --- reading --------------------------------------------------------------------------------


def _check_size(value: Any) -> None:
    """Walk what safe_load built; refuse a structure too big or too deep to handle."""
    count = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigFileError(
                [Problem("", f"The file expands to more than {MAX_NODES:,} values (aliases?).")]
            )
        if depth > MAX_DEPTH:
            raise ConfigFileError([Problem("", f"The file nests deeper than {MAX_DEPTH} levels.")])
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _duplicate_keys(text: str) -> list[Problem]:
    """Keys given twice in one mapping: YAML keeps the last without a word, so a reviewer
    could read ``requestable: false`` above the ``requestable: true`` that counts."""
    problems: list[Problem] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(yaml.compose(text, Loader=yaml.SafeLoader), "")]
    while stack:
        node, path = stack.pop()
        # Aliases share nodes: each is walked once, however often it is used.
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
                if key and key in keys:
                    line = key_node.start_mark.line + 1
                    problems.append(
                        Problem(_join(path, key), f"Given twice in one mapping (again on line {line}).")
                    )
                keys.add(key)
                stack.append((value_node, _join(path, key)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value))
    return problems


def load(data: bytes) -> Any:
    """The file's bytes as plain data; ConfigFileError when it is not a YAML file we read."""
    if len(data) > MAX_FILE_BYTES:
        raise ConfigFileError(
            [Problem("", f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            [Problem("", f"The file is not UTF-8 text (byte {exc.start}).")]
        ) from None
    if "\x00" in text:
        raise ConfigFileError([Problem("", "The file contains a NUL character.")])
    try:
        duplicates = _duplicate_keys(text)
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigFileError([Problem("", f"Not valid YAML{where}: {exc.problem}.")]) from None
    except yaml.YAMLError as exc:
        raise ConfigFileError([Problem("", f"Not valid YAML: {exc}.")]) from None
    except RecursionError:
        raise ConfigFileError([Problem("", f"The file nests deeper than {MAX_DEPTH} levels.")]) from None
    _check_size(document)
    if duplicates:
        raise ConfigFileError(duplicates)
    return document


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _dates_as_text(value: Any) -> Any:
    """YAML reads an unquoted 2012-10-17 as a date; a policy document means the text."""
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _check_entry(entry: Any, path: str, problems: list[Problem]) -> dict[str, Any] | None:
    """One access group of the file, its shape checked; None when it is unusable."""
    if not isinstance(entry, dict):
        problems.append(Problem(path, f"Each access group is a mapping, not {_type_name(entry)}."))
        return None
    found = len(problems)
    for key in entry:
        if key not in CONFIG_FIELDS:
            problems.append(
                Problem(f"{path}.{key}", "Unknown field; see docs/configuration-as-code.md.")
            )
    if "name" not in entry:
        problems.append(Problem(f"{path}.name", "Every access group needs a name."))
    for field, value in entry.items():
        where = f"{path}.{field}"
        if field in _TEXT:
            if not isinstance(value, str):
                problems.append(Problem(where, f"Give a text, not {_type_name(value)}."))
            elif field == "name" and not value.strip():
                problems.append(Problem(where, "The name is empty."))
        elif field in _SWITCHES:
            if not isinstance(value, bool):
                problems.append(Problem(where, f"Give true or false, not {_type_name(value)}."))
        elif field == "approvals_required":
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(Problem(where, f"Give a whole number, not {_type_name(value)}."))
        elif field == "max_duration_hours":
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                problems.append(
                    Problem(where, f"Give a whole number of hours or null, not {_type_name(value)}.")
                )
        elif field in _NAME_LISTS:
            if not isinstance(value, list):
                problems.append(Problem(where, f"Give a list, not {_type_name(value)}."))
                continue
            for index, item in enumerate(value):
                if not isinstance(item, str):
                    hint = " (write account ids in quotes)" if field == "accounts" else ""
                    problems.append(
                        Problem(f"{where}[{index}]", f"Give a text, not {_type_name(item)}{hint}.")
                    )
        elif field == "customer_managed_policies":
            if not isinstance(value, list):
                problems.append(Problem(where, f"Give a list, not {_type_name(value)}."))
                continue
            for index, item in enumerate(value):
                item_path = f"{where}[{index}]"
                if not isinstance(item, dict):
                    problems.append(
                        Problem(item_path, f"Give a mapping with name and path, not {_type_name(item)}.")
                    )
                    continue
                for key in item:
                    if key not in ("name", "path"):
                        problems.append(Problem(f"{item_path}.{key}", "Unknown field; use name and path."))
                if not isinstance(item.get("name"), str):
                    problems.append(Problem(f"{item_path}.name", "Give the policy's name as a text."))
                if "path" in item and not isinstance(item["path"], str):
                    problems.append(Problem(f"{item_path}.path", "Give the policy's path as a text."))
        elif field == "inline_policy":
            if value is not None and not isinstance(value, dict):
                problems.append(
                    Problem(where, f"Give the policy document as a mapping or null, not {_type_name(value)}.")
                )
    if len(problems) > found:
        return None
    entry = dict(entry)
    if entry.get("inline_policy") is not None:
        entry["inline_policy"] = _dates_as_text(entry["inline_policy"])
    return entry


def parse(document: Any) -> list[dict[str, Any]]:
    """The access groups of a loaded file, each with the fields it gives; ConfigFileError
    listing every problem of shape when there is one."""
    problems: list[Problem] = []
    if not isinstance(document, dict):
        raise ConfigFileError(
            [Problem("", f"The file must be a mapping with version and access_groups, not {_type_name(document)}.")]
        )
    for key in document:
        if key not in ("version", "access_groups"):
            problems.append(Problem(str(key), "Unknown field; the file has version and access_groups."))
    version = document.get("version")
    if "version" not in document:
        problems.append(Problem("version", f"Say which schema the file follows: version: {VERSION}."))
    elif isinstance(version, bool) or version != VERSION:
        problems.append(Problem("version", f"Only version {VERSION} is understood, not {version!r}."))
    groups = document.get("access_groups")
    if groups is None:
        # Also when the key is there without a value: an empty list says "none" on purpose,
        # which matters with --archive-missing.
        problems.append(Problem("access_groups", "List the access groups (an empty list: none)."))
        groups = []
    elif not isinstance(groups, list):
        problems.append(Problem("access_groups", f"Give a list, not {_type_name(groups)}."))
        groups = []
    entries: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(groups):
        path = f"access_groups[{index}]"
        entry = _check_entry(raw, path, problems)
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name.strip():
            # Told even for a group with other problems: both places need fixing.
            key = name.strip().casefold()
            if key in seen:
                problems.append(
                    Problem(f"{path}.name", f"access_groups[{seen[key]}] has this name already.")
                )
                continue
            seen[key] = index
        if entry is not None:
            entries.append(entry)
    if problems:
        raise ConfigFileError(problems)
    return entries
