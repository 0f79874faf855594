"""What a read of AWS Organizations found, as plain data: provisioning fills it in,
accessgroups.organizations.services stores it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ListedUnit:
    """A root (``r-...``, no parent) or an organizational unit."""

    ou_id: str
    name: str
    parent_id: str | None


@dataclass(frozen=True)
class ListedAccount:
    account_id: str
    name: str
    email: str
    status: str
    parent_id: str


@dataclass
class Tree:
    units: list[ListedUnit] = field(default_factory=list)
    accounts: list[ListedAccount] = field(default_factory=list)
    # Parents whose children could not be listed (access denied...), with the reason: what
    # was under them stays where the last sync put it.
    unreadable: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def paths(self) -> dict[str, str]:
        """``ou_id -> "Root/Workloads/Prod"`` for every unit (parents listed before children)."""
        paths: dict[str, str] = {}
        for unit in self.units:
            parent = paths.get(unit.parent_id or "")
            paths[unit.ou_id] = f"{parent}/{unit.name}" if parent else unit.name
        return paths
