"""Reading drift findings and scans, for the API and the pages (auditors and admins); and
what the database says a scan should find (provisioning.drift compares it with Identity
Center).

A page of findings is one query whatever its length: the access group is joined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    Account,
    DriftFinding,
    DriftScan,
    Membership,
    ProvisioningStatus,
    User,
)


def drift_findings(*, open: bool | None = None) -> QuerySet[DriftFinding]:
    """Newest first; ``open`` True: only open ones, False: only resolved ones, None: all."""
    findings = DriftFinding.objects.select_related("access_group").order_by("-detected_at", "-id")
    if open is True:
        return findings.open()
    if open is False:
        return findings.resolved()
    return findings


def last_drift_scan() -> DriftScan | None:
    """The scan that started last, running or finished."""
    return DriftScan.objects.order_by("-started_at", "-id").first()


# --- what a scan compares -----------------------------------------------------------------


@dataclass
class MembershipPair:
    """A user's membership rows in one group, as far as the scan cares."""

    user_pk: int
    username: str
    user_id: str  # Identity Center's UserId; "" before onboarding
    wanted: bool = False
    unsure: bool = False
    active_pks: list[int] = field(default_factory=list)


@dataclass
class Expected:
    """The database's side for the scanned groups, read after Identity Center was."""

    groups: dict[int, AccessGroup]
    policies: dict[int, list[AccessGroupPolicy]]
    pairs: dict[int, list[MembershipPair]]
    links: dict[int, list[dict]]
    account_names: dict[str, str]
    users_by_ic_id: dict[str, tuple[int, str]]
    groups_by_ic_id: dict[str, str]
    groups_by_arn: dict[str, str]


def portal_users() -> dict[str, tuple[int, str]]:
    """(pk, username) of every portal user with an Identity Center id, by that id.

    All of them rather than those a scan saw: one query without a parameter per member,
    which databases limit (SQLite to 32,766, PostgreSQL to 65,535).
    """
    return {
        ic_id: (pk, username)
        for pk, username, ic_id in User.objects.exclude(identity_center_user_id="").values_list(
            "pk", "username", "identity_center_user_id"
        )
    }


def expected_state(
    group_pks: list[int],
    *,
    since: datetime,
    account_ids: set[str],
    principal_group_ids: set[str],
    permission_set_arns: set[str],
    users_by_ic_id: dict[str, tuple[int, str]],
) -> Expected:
    """What the database says about the groups a drift scan read, read after Identity
    Center was: a fixed number of queries, whatever the number of groups and rows.

    A pair of user and group is ``unsure`` when one of its rows (or the user's) is not in
    sync, or was provisioned at or after ``since``: its provisioning task owns it. The other
    arguments are what the scan saw, to be named: accounts, groups holding a permission set,
    permission sets assigned to a group.
    """
    groups = {g.pk: g for g in AccessGroup.objects.filter(pk__in=group_pks)}
    policies: dict[int, list[AccessGroupPolicy]] = {pk: [] for pk in group_pks}
    for policy in AccessGroupPolicy.objects.filter(
        access_group_id__in=group_pks, valid_to__isnull=True
    ):
        policies[policy.access_group_id].append(policy)

    # Ended rows that are in sync and were provisioned before the scan are history.
    rows = (
        Membership.objects.filter(access_group_id__in=group_pks)
        .filter(
            Q(ended_at__isnull=True)
            | ~Q(provisioning_status=ProvisioningStatus.IN_SYNC)
            | Q(provisioned_at__gte=since)
        )
        .values(
            "pk",
            "access_group_id",
            "user_id",
            "ended_at",
            "provisioning_status",
            "provisioned_at",
            "user__username",
            "user__identity_center_user_id",
            "user__is_active",
            "user__provisioning_status",
        )
    )
    by_pair: dict[tuple[int, int], MembershipPair] = {}
    for row in rows:
        pair = by_pair.setdefault(
            (row["access_group_id"], row["user_id"]),
            MembershipPair(
                row["user_id"], row["user__username"], row["user__identity_center_user_id"]
            ),
        )
        if (
            row["provisioning_status"] != ProvisioningStatus.IN_SYNC
            or (row["provisioned_at"] is not None and row["provisioned_at"] >= since)
            or row["user__provisioning_status"] != ProvisioningStatus.IN_SYNC
        ):
            pair.unsure = True
        if row["ended_at"] is None:
            pair.active_pks.append(row["pk"])
            pair.wanted = pair.wanted or bool(row["user__is_active"])
    pairs: dict[int, list[MembershipPair]] = {pk: [] for pk in group_pks}
    for (group_pk, _), pair in by_pair.items():
        if pair.wanted and not pair.user_id:
            pair.unsure = True  # not onboarded yet
        pairs[group_pk].append(pair)

    links: dict[int, list[dict]] = {pk: [] for pk in group_pks}
    for link in (
        AccessGroupAccount.objects.filter(access_group_id__in=group_pks)
        .filter(Q(valid_to__isnull=True) | ~Q(provisioning_status=ProvisioningStatus.IN_SYNC))
        .values("pk", "access_group_id", "account__account_id", "valid_to", "provisioning_status")
    ):
        links[link["access_group_id"]].append(link)

    account_ids = set(account_ids)
    for group_links in links.values():
        account_ids.update(link["account__account_id"] for link in group_links)
    return Expected(
        groups=groups,
        policies=policies,
        pairs=pairs,
        links=links,
        account_names=dict(
            Account.objects.filter(account_id__in=account_ids).values_list("account_id", "name")
        ),
        users_by_ic_id=users_by_ic_id,
        groups_by_ic_id=dict(
            AccessGroup.objects.live()
            .filter(identity_center_group_id__in=principal_group_ids)
            .values_list("identity_center_group_id", "name")
        ),
        groups_by_arn=dict(
            AccessGroup.objects.live()
            .filter(permission_set_arn__in=permission_set_arns)
            .values_list("permission_set_arn", "name")
        ),
    )
