"""The drift scan's comparison: what Identity Center holds (``Seen``) against what the
database says should be there, in the words of accessgroups.drift's findings.

Only what is settled is compared. A membership row, an account link or an access group
that is pending, being provisioned, or failed is the provisioning tasks' business, and so
is one provisioned since the scan started reading (what was read may predate it): those
are neither reported nor, by their absence, resolved. What the portal never writes (an
assignment of its permission set to another principal, or of another permission set to its
group) is compared whatever the rows' state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from accessgroups.core.validators import parse_session_duration
from accessgroups.drift.selectors import Expected, MembershipPair, expected_state
from accessgroups.drift.services import Observed
from accessgroups.models import (
    AccessGroup,
    DriftFinding,
    DriftKind,
    PolicyKind,
    PrincipalType,
    ProvisioningStatus,
)
from provisioning.inline_policies import parse_inline_policy, wanted_inline_policy

IN_SYNC = ProvisioningStatus.IN_SYNC


@dataclass(frozen=True)
class Target:
    """An access group to scan, and what to read for it."""

    pk: int
    name: str
    group_id: str
    arn: str
    # Accounts its link rows name: their assignments are read even when AWS does not list
    # the permission set as provisioned there.
    accounts: frozenset[str]


@dataclass
class PermissionSetSeen:
    exists: bool
    session_duration: str = ""
    managed: set[str] = field(default_factory=set)
    customer: set[tuple[str, str]] = field(default_factory=set)
    inline_text: str = ""


@dataclass
class Seen:
    """What Identity Center holds for one access group, read once in a scan."""

    target: Target
    # UserId -> MembershipIds (a duplicate made outside the portal shows as two).
    members: dict[str, list[str]] = field(default_factory=dict)
    # (account, permission set ARN) of every assignment to the group.
    group_assignments: set[tuple[str, str]] = field(default_factory=set)
    # (account, principal type, principal id) of every assignment of its permission set.
    permission_set_assignments: set[tuple[str, str, str]] = field(default_factory=set)
    permission_set: PermissionSetSeen = field(default_factory=lambda: PermissionSetSeen(True))
    error: str = ""


@dataclass(frozen=True)
class Drift:
    """One difference, and what undoing it takes."""

    observed: Observed
    membership_ids: tuple[str, ...] = ()  # unexpected member: Identity Center's
    principal_id: str = ""  # unexpected assignment: Identity Center's id of the principal
    membership_pks: tuple[int, ...] = ()  # missing member: the rows to provision again
    link_pks: tuple[int, ...] = ()  # missing assignment: the link rows


@dataclass
class Comparison:
    """What was compared for one access group, so that only those findings are resolved."""

    group: AccessGroup
    settled: bool
    # False: archived, or its ids replaced while the scan read: nothing read is comparable.
    comparable: bool = True
    # Its own assignments are compared only while its permission set exists: a missing
    # permission set is one finding, and its sync makes the assignments again.
    permission_set_exists: bool = True
    unsure_accounts: set[str] = field(default_factory=set)
    unsure_users: set[int] = field(default_factory=set)
    unsure_user_ids: set[str] = field(default_factory=set)

    def covers(self, finding: DriftFinding) -> bool:
        if not self.comparable:
            return False
        kind = finding.kind
        if kind in (DriftKind.UNEXPECTED_MEMBER, DriftKind.MISSING_MEMBER):
            if finding.user_id is not None:
                return finding.user_id not in self.unsure_users
            return finding.principal.removeprefix("USER ") not in self.unsure_user_ids
        if kind == DriftKind.PERMISSION_SET_CHANGED:
            return self.settled
        own = (
            finding.permission_set_arn == self.group.permission_set_arn
            and finding.principal_type == PrincipalType.GROUP
            and finding.principal == self.group.name
        )
        if kind == DriftKind.MISSING_ASSIGNMENT or own:
            return (
                self.settled
                and self.permission_set_exists
                and finding.account_id not in self.unsure_accounts
            )
        return True


def read_expected(
    seen: list[Seen], *, since: datetime, users_by_ic_id: dict[str, tuple[int, str]]
) -> Expected:
    """The database's side of what was read, and names for what Identity Center holds."""
    return expected_state(
        [s.target.pk for s in seen],
        since=since,
        account_ids={a for s in seen for a, _ in s.group_assignments}
        | {a for s in seen for a, _, _ in s.permission_set_assignments},
        principal_group_ids={
            p for s in seen for _, t, p in s.permission_set_assignments if t == PrincipalType.GROUP
        },
        permission_set_arns={arn for s in seen for _, arn in s.group_assignments},
        users_by_ic_id=users_by_ic_id,
    )


def settled(group: AccessGroup, target: Target, since: datetime) -> bool:
    """Nothing of the group's own objects is being provisioned, nor was since the scan began."""
    return (
        group.archived_at is None
        and group.provisioning_status == IN_SYNC
        and (group.provisioned_at is None or group.provisioned_at < since)
        and group.identity_center_group_id == target.group_id
        and group.permission_set_arn == target.arn
    )


def compare(
    seen: Seen, expected: Expected, *, since: datetime, user_names: dict[str, str]
) -> tuple[list[Drift], Comparison]:
    """The differences for one access group. ``user_names``: UserName by UserId, for the
    Identity Center users the portal does not know."""
    target = seen.target
    group = expected.groups[target.pk]
    comparison = Comparison(
        group=group,
        settled=settled(group, target, since),
        permission_set_exists=seen.permission_set.exists,
    )
    drifts: list[Drift] = []
    ids_match = (
        group.identity_center_group_id == target.group_id and group.permission_set_arn == target.arn
    )
    if group.archived_at is not None or not ids_match:
        comparison.settled = comparison.comparable = False
        return [], comparison
    drifts += _members(seen, expected, comparison, user_names)
    drifts += _assignments(seen, expected, comparison, user_names)
    if comparison.settled:
        drifts += _permission_set(seen, expected)
    return drifts, comparison


def _sentence(words: str) -> str:
    """Words that open a sentence: "the ..." capitalised, a username left as it is."""
    return "The" + words[3:] if words.startswith("the ") else words


def _user_label(
    user_id: str, expected: Expected, user_names: dict[str, str]
) -> tuple[str, int | None, str]:
    """(principal, portal user pk, words) for an Identity Center user."""
    known = expected.users_by_ic_id.get(user_id)
    if known is not None:
        return known[1], known[0], known[1]
    name = user_names.get(user_id, "")
    words = (
        f"the Identity Center user {name} ({user_id})"
        if name
        else f"the Identity Center user {user_id}"
    )
    return f"USER {user_id}", None, words + ", whom the portal does not know,"


def _members(
    seen: Seen, expected: Expected, comparison: Comparison, user_names: dict[str, str]
) -> list[Drift]:
    group = comparison.group
    wanted: dict[str, MembershipPair] = {}
    for pair in expected.pairs[group.pk]:
        if pair.unsure:
            comparison.unsure_users.add(pair.user_pk)
            if pair.user_id:
                comparison.unsure_user_ids.add(pair.user_id)
        elif pair.wanted:
            wanted[pair.user_id] = pair
    unsure_names = {p.username for p in expected.pairs[group.pk] if p.unsure}
    drifts = []
    for user_id, pair in sorted(wanted.items(), key=lambda item: item[1].username):
        if user_id not in seen.members:
            drifts.append(
                Drift(
                    Observed(
                        kind=DriftKind.MISSING_MEMBER,
                        access_group_id=group.pk,
                        principal_type=PrincipalType.USER,
                        principal=pair.username,
                        user_id=pair.user_pk,
                        detail=(
                            f"{pair.username} has access to {group.name} in the portal, but is "
                            f"not a member of its Identity Center group."
                        ),
                    ),
                    membership_pks=tuple(pair.active_pks),
                )
            )
    for user_id, membership_ids in sorted(seen.members.items()):
        if user_id in wanted or user_id in comparison.unsure_user_ids:
            continue
        if user_names.get(user_id) in unsure_names:
            continue  # a portal user being onboarded under that name: not settled yet
        principal, user_pk, words = _user_label(user_id, expected, user_names)
        if user_pk is not None and user_pk in comparison.unsure_users:
            continue
        twice = f" ({len(membership_ids)} memberships)" if len(membership_ids) > 1 else ""
        drifts.append(
            Drift(
                Observed(
                    kind=DriftKind.UNEXPECTED_MEMBER,
                    access_group_id=group.pk,
                    principal_type=PrincipalType.USER,
                    principal=principal,
                    user_id=user_pk,
                    detail=(
                        f"{_sentence(words)} is a member of the Identity Center group "
                        f"{group.name}{twice} without an active membership in the portal."
                    ),
                ),
                membership_ids=tuple(membership_ids),
            )
        )
    return drifts


def _account(account_id: str, expected: Expected) -> str:
    name = expected.account_names.get(account_id)
    return f"account {account_id} ({name})" if name else f"account {account_id}"


def _assignments(
    seen: Seen, expected: Expected, comparison: Comparison, user_names: dict[str, str]
) -> list[Drift]:
    group, target = comparison.group, seen.target
    current: dict[str, list[int]] = {}
    for link in expected.links[group.pk]:
        account = link["account__account_id"]
        if link["provisioning_status"] != IN_SYNC:
            comparison.unsure_accounts.add(account)
        elif link["valid_to"] is None:
            current.setdefault(account, []).append(link["pk"])
    own = {a for a, arn in seen.group_assignments if arn == target.arn} | {
        a
        for a, kind, principal in seen.permission_set_assignments
        if kind == PrincipalType.GROUP and principal == target.group_id
    }
    drifts = []
    if comparison.settled and comparison.permission_set_exists:
        for account in sorted(current.keys() - own - comparison.unsure_accounts):
            drifts.append(
                Drift(
                    Observed(
                        kind=DriftKind.MISSING_ASSIGNMENT,
                        access_group_id=group.pk,
                        principal_type=PrincipalType.GROUP,
                        principal=group.name,
                        account_id=account,
                        permission_set_arn=target.arn,
                        detail=(
                            f"{group.name} grants {_account(account, expected)}, but its "
                            f"permission set is not assigned to its group there."
                        ),
                    ),
                    link_pks=tuple(current[account]),
                )
            )
        for account in sorted(own - current.keys() - comparison.unsure_accounts):
            drifts.append(
                _unexpected(
                    group,
                    account,
                    target.arn,
                    PrincipalType.GROUP,
                    target.group_id,
                    principal=group.name,
                    detail=(
                        f"The permission set {group.name} is assigned to its group in "
                        f"{_account(account, expected)}, which {group.name} does not grant."
                    ),
                )
            )
    # The portal never assigns its permission sets to anyone but their own group.
    for account, kind, principal_id in sorted(seen.permission_set_assignments):
        if kind == PrincipalType.GROUP and principal_id == target.group_id:
            continue
        if kind == PrincipalType.USER:
            principal, user_pk, words = _user_label(principal_id, expected, user_names)
        else:
            name = expected.groups_by_ic_id.get(principal_id)
            principal = name or f"GROUP {principal_id}"
            words = (
                f"the group of the access group {name}"
                if name
                else f"the Identity Center group {principal_id}"
            )
            user_pk = None
        drifts.append(
            _unexpected(
                group,
                account,
                target.arn,
                kind,
                principal_id,
                principal=principal,
                user_pk=user_pk,
                detail=(
                    f"The permission set {group.name} is assigned to {words} in "
                    f"{_account(account, expected)}; the portal assigns it only to the group "
                    f"{group.name}."
                ),
            )
        )
    # Nor other permission sets to its groups: they would give its members access the
    # portal does not know of.
    for account, arn in sorted(seen.group_assignments):
        if arn == target.arn:
            continue
        other = expected.groups_by_arn.get(arn)
        what = (
            f"the permission set of the access group {other}"
            if other
            else f"the permission set {arn}"
        )
        drifts.append(
            _unexpected(
                group,
                account,
                arn,
                PrincipalType.GROUP,
                target.group_id,
                principal=group.name,
                detail=(
                    f"{_sentence(what)} is assigned to the group {group.name} in "
                    f"{_account(account, expected)}: its members reach that account in a way "
                    f"the portal did not grant."
                ),
            )
        )
    return drifts


def _unexpected(
    group: AccessGroup,
    account: str,
    arn: str,
    principal_type: str,
    principal_id: str,
    *,
    principal: str,
    detail: str,
    user_pk: int | None = None,
) -> Drift:
    return Drift(
        Observed(
            kind=DriftKind.UNEXPECTED_ASSIGNMENT,
            access_group_id=group.pk,
            principal_type=principal_type,
            principal=principal,
            user_id=user_pk,
            account_id=account,
            permission_set_arn=arn,
            detail=detail,
        ),
        principal_id=principal_id,
    )


def _permission_set(seen: Seen, expected: Expected) -> list[Drift]:
    target = seen.target
    group = expected.groups[target.pk]
    held = seen.permission_set
    if not held.exists:
        differences = [f"it no longer exists in Identity Center ({target.arn})"]
    else:
        policies = expected.policies[group.pk]
        differences = []
        if parse_session_duration(held.session_duration) != parse_session_duration(
            group.session_duration
        ):
            differences.append(
                f"session duration {held.session_duration or 'none'} "
                f"instead of {group.session_duration}"
            )
        managed = {p.arn for p in policies if p.kind == PolicyKind.AWS_MANAGED}
        differences += _set_words("AWS managed policy", held.managed, managed, str)
        customer = {
            (p.path or "/", p.name) for p in policies if p.kind == PolicyKind.CUSTOMER_MANAGED
        }
        differences += _set_words(
            "customer managed policy", held.customer, customer, lambda ref: f"{ref[0]}{ref[1]}"
        )
        wanted = wanted_inline_policy(group, policies)
        current = parse_inline_policy(held.inline_text)
        if wanted != current:
            if wanted is None:
                differences.append("an inline policy the access group does not have")
            elif current is None:
                differences.append("no inline policy, where the access group has one")
            else:
                differences.append("an inline policy other than the access group's")
    if not differences:
        return []
    return [
        Drift(
            Observed(
                kind=DriftKind.PERMISSION_SET_CHANGED,
                access_group_id=group.pk,
                detail=f"The permission set {group.name} differs from the access group: "
                + "; ".join(differences)
                + ".",
            )
        )
    ]


def _set_words(what: str, held: set, wanted: set, show) -> list[str]:
    words = []
    added = sorted(held - wanted)
    removed = sorted(wanted - held)
    if added:
        words.append(f"{what} {', '.join(map(show, added))} attached outside the portal")
    if removed:
        words.append(f"{what} {', '.join(map(show, removed))} missing")
    return words
