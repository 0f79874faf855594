"""Reads for reports. They only read the database: Identity Center is never asked."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    Account,
    Decision,
    DecisionOutcome,
    Membership,
    MembershipExtension,
    ProvisioningStatus,
    User,
)
from accessgroups.reports.rows import Rows

WHO_HAS_ACCESS_COLUMNS = (
    "username",
    "email",
    "access_group",
    "permission_set",
    "account_id",
    "account_name",
    "source",
    "granted_at",
    "expires_at",
    "approved_by",
    # Added later: columns are only ever appended, never renamed (a public promise).
    "justification",
    # "active": confirmed in Identity Center; "removal_pending": the portal ended it (the
    # membership, or the group's account) and Identity Center may still grant it.
    "state",
    "ended_at",
    "last_error",
    # Where AWS Organizations holds the account today ("Root/Workloads/Prod"; "" if unknown).
    "account_ou_path",
)

# The report's order: its rows' key, unique (the membership's id last).
ORDER = ("user__username", "access_group__name", "link__account__account_id", "pk")

ACTIVE = "active"
REMOVAL_PENDING = "removal_pending"


def _expiry_at(at: datetime) -> Case:
    """The membership's expiry in force at ``at``: what the first later extension replaced."""
    later = MembershipExtension.objects.filter(
        membership=OuterRef("pk"), changed_at__gt=at
    ).order_by("changed_at", "id")
    return Case(
        When(Exists(later), then=Subquery(later.values("previous_expires_at")[:1])),
        default=F("expires_at"),
        output_field=DateTimeField(),
    )


def membership_gives_access_now() -> Q:
    """Conditions on Membership: the membership gives access now.

    It is active, confirmed in Identity Center (in sync), and its access group is not
    archived. Shared by every read of current access (this report, the access matrix), so
    that they cannot come to disagree.
    """
    return Q(
        ended_at__isnull=True,
        provisioning_status=ProvisioningStatus.IN_SYNC,
        access_group__archived_at__isnull=True,
    )


def membership_removal_pending() -> Q:
    """Conditions on Membership: ended, but its removal from Identity Center is not confirmed.

    The same rows as accessgroups.access.selectors.removals_pending(), as a condition.
    """
    covered = Membership.objects.filter(
        user=OuterRef("user"), access_group=OuterRef("access_group"), ended_at__isnull=True
    )
    return (
        Q(ended_at__isnull=False)
        & ~Q(provisioning_status=ProvisioningStatus.IN_SYNC, synced_generation=F("generation"))
        & ~Q(Exists(covered))
    )


def link_removal_pending(path: str = "") -> Q:
    """Conditions on AccessGroupAccount: ended, but the assignment may still exist."""
    return Q(**{f"{path}valid_to__isnull": False}) & ~Q(
        **{f"{path}provisioning_status": ProvisioningStatus.IN_SYNC}
    )


def membership_may_grant_now() -> Q:
    """Conditions on Membership: Identity Center grants it, or may until its removal is done."""
    return membership_gives_access_now() | membership_removal_pending()


def link_may_grant_now(path: str = "") -> Q:
    """Conditions on AccessGroupAccount: the assignment exists, or may until its removal is done."""
    return link_gives_access_now(path) | link_removal_pending(path)


def link_gives_access_now(path: str = "") -> Q:
    """Conditions on AccessGroupAccount: the account link gives access now.

    It is current and confirmed in Identity Center (the account assignment exists). ``path``
    leads to the links from the model queried: ``"access_group__account_links__"`` from a
    membership.
    """
    return Q(
        **{
            f"{path}valid_to__isnull": True,
            f"{path}provisioning_status": ProvisioningStatus.IN_SYNC,
        }
    )


def approvals(*, at: datetime | None = None) -> QuerySet[Decision]:
    """Approvals that name a membership's approver, made by ``at`` if given.

    The approver is that of the latest approved request behind the membership: an
    extension's approver is the one who decided how long the access now lasts. Admin
    grants have no request, so their granter answers.
    """
    found = Decision.objects.filter(outcome=DecisionOutcome.APPROVE)
    if at is not None:
        found = found.filter(created_at__lte=at)
    return found


def _report_memberships(
    *,
    access_group: AccessGroup | None,
    user: User | None,
    expiring_before: datetime | None,
    at: datetime | None,
) -> QuerySet[Membership]:
    """The memberships behind the report's rows, under the filters that bear on them, with
    their ``expiry`` (in force at ``at``, or now)."""
    if at is None:
        memberships = Membership.objects.filter(membership_may_grant_now()).annotate(
            expiry=F("expires_at")
        )
    else:
        memberships = Membership.objects.filter(
            # Active from the moment Identity Center confirmed it; a row without that moment
            # (recorded before it was kept) counts from its grant once it is confirmed.
            Q(activated_at__lte=at)
            | Q(
                activated_at__isnull=True,
                granted_at__lte=at,
                provisioning_status=ProvisioningStatus.IN_SYNC,
            ),
            Q(ended_at__isnull=True) | Q(ended_at__gt=at),
            Q(access_group__archived_at__isnull=True) | Q(access_group__archived_at__gt=at),
        ).annotate(expiry=_expiry_at(at))
    if access_group is not None:
        memberships = memberships.filter(access_group=access_group)
    if user is not None:
        memberships = memberships.filter(user=user)
    if expiring_before is not None:
        memberships = memberships.filter(expiry__lt=expiring_before)
    return memberships


def _report_link_condition(*, at: datetime | None, path: str = "") -> Q:
    """Conditions on AccessGroupAccount: the links whose accounts the report lists."""
    if at is None:
        return link_may_grant_now(path)
    return Q(**{f"{path}valid_from__lte": at}) & (
        Q(**{f"{path}valid_to__isnull": True}) | Q(**{f"{path}valid_to__gt": at})
    )


def report_count(
    *,
    account: Account | None,
    access_group: AccessGroup | None,
    user: User | None,
    expiring_before: datetime | None,
    at: datetime | None,
) -> int:
    """How many rows report_rows() gives, exactly, without making them.

    A row is a membership and one of its group's links that the filters keep, every such
    pair once (state and dates are columns, not rows: removal_pending rows are among these
    pairs). So the count is, over access groups, (memberships kept in the group) x (links
    kept of the group): two GROUP BY aggregates, of memberships (about 50,000) and of links
    (about 10,000), where a count of the join reads every one of its 500,000 rows.
    """
    memberships = _report_memberships(
        access_group=access_group, user=user, expiring_before=expiring_before, at=at
    )
    links = AccessGroupAccount.objects.filter(_report_link_condition(at=at))

    def per_group(queryset: QuerySet) -> dict[int, int]:
        counted = queryset.order_by().values("access_group_id").annotate(n=Count("pk"))
        return dict(counted.values_list("access_group_id", "n"))

    # The narrower side first (an account's links; a group's or a user's memberships), then
    # the other only over the groups it found; nothing found, nothing more to read.
    if account is not None:
        accounts = per_group(links.filter(account=account))
        memberships = memberships.filter(access_group__in=list(accounts))
        members = per_group(memberships) if accounts else {}
    else:
        members = per_group(memberships)
        if access_group is not None or user is not None:
            links = links.filter(access_group__in=list(members))
        accounts = per_group(links) if members else {}
    return sum(n * accounts.get(group, 0) for group, n in members.items())


def report_rows(
    *,
    account: Account | None,
    access_group: AccessGroup | None,
    user: User | None,
    expiring_before: datetime | None,
    at: datetime | None,
) -> QuerySet:
    """The report's rows (memberships joined to their account links) before their columns
    are chosen."""
    memberships = _report_memberships(
        access_group=access_group, user=user, expiring_before=expiring_before, at=at
    )
    link_condition = _report_link_condition(at=at, path="access_group__account_links__")
    # One join to the account links, filtered in the ON clause, so that the account
    # columns come from exactly the links that passed the filter.
    rows = memberships.annotate(
        link=FilteredRelation("access_group__account_links", condition=link_condition)
    )
    # The link conditions go in one filter() call: a second call on a multi-valued
    # relation would join the links again and filter that other copy.
    link_filter: dict[str, Any] = {"link__isnull": False}
    if account is not None:
        link_filter["link__account"] = account
    rows = rows.filter(**link_filter)
    if at is None:
        confirmed = Q(ended_at__isnull=True, link__valid_to__isnull=True)
        rows = rows.annotate(
            row_state=Case(
                When(confirmed, then=Value(ACTIVE)),
                default=Value(REMOVAL_PENDING),
                output_field=CharField(),
            ),
            row_ended_at=Case(
                When(confirmed, then=None),
                default=Coalesce(F("ended_at"), F("link__valid_to")),
                output_field=DateTimeField(),
            ),
            row_last_error=Case(
                When(confirmed, then=Value("")),
                When(ended_at__isnull=False, then=F("last_error")),
                default=F("link__last_error"),
                output_field=TextField(),
            ),
        )
    else:
        rows = rows.annotate(
            row_state=Value(ACTIVE, output_field=CharField()),
            row_ended_at=Value(None, output_field=DateTimeField()),
            row_last_error=Value("", output_field=TextField()),
        )
    return rows


def report_columns() -> dict[str, F]:
    """The report's columns over report_rows, all but the approver, which the pages and
    the files each look up their own way."""
    return {
        "username": F("user__username"),
        "email": F("user__email"),
        "access_group_name": F("access_group__name"),
        # The permission set is named after the access group (DESIGN: Identity Center mapping).
        "permission_set": F("access_group__name"),
        "account_id": F("link__account__account_id"),
        "account_name": F("link__account__name"),
        "account_ou_path": F("link__account__ou_path"),
        "membership_source": F("source"),
        "membership_granted_at": F("granted_at"),
        "membership_expires_at": F("expiry"),
        "membership_justification": F("justification"),
        "state": F("row_state"),
        "state_ended_at": F("row_ended_at"),
        "state_last_error": F("row_last_error"),
    }


def who_has_access(
    *,
    account: Account | None = None,
    access_group: AccessGroup | None = None,
    user: User | None = None,
    expiring_before: datetime | None = None,
    at: datetime | None = None,
) -> Rows:
    """One row (a dict of WHO_HAS_ACCESS_COLUMNS) per user x access group x account.

    Now (``at`` None), the report is what Identity Center may grant. Rows in ``state``
    ``active`` are confirmed: the membership is active and in sync, the account link current
    and in sync. Rows in ``state`` ``removal_pending`` are access the portal has ended (the
    membership, or the group's account) whose removal Identity Center has not confirmed
    yet: they stay listed, with when it ended and the last error, until it has. Access that
    is still being provisioned, or failed to be, is not access yet.

    At a past moment ``at``, rows come from the dated history instead of the current state:
    memberships active then (activated at or before ``at``, not ended by then), account links
    valid then, access groups not yet archived then, and the approver of the latest approval
    made by then. ``expires_at`` is the expiry in force then: an extension approved after
    ``at`` does not show. Names, email addresses and OU paths are those of today; which
    accounts a group granted then comes from its dated links, so an account an OU brought
    in or took away (accessgroups.organizations) shows only while its link was current.

    ``expiring_before`` keeps only grants whose expiry (in force at ``at``, or now) is
    before that moment.

    The result is one query whether it is iterated (files) or sliced (pages); its count
    is report_count(), two small aggregates rather than a count of the join.
    """
    filters = {
        "account": account,
        "access_group": access_group,
        "user": user,
        "expiring_before": expiring_before,
        "at": at,
    }
    rows = report_rows(**filters)
    # Pages read a few rows at a time (LIMIT), so the approver is looked up per row shown;
    # the files join it per membership instead (accessgroups.reports.export_rows).
    latest_approver = (
        approvals(at=at)
        .filter(request__membership=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("decided_by__username")[:1]
    )
    queryset = rows.values(
        **report_columns(),
        approved_by=Coalesce(Subquery(latest_approver), F("granted_by__username")),
        row_id=F("pk"),
    ).order_by(*ORDER)
    return Rows(
        queryset,
        renames={
            "access_group": "access_group_name",
            "source": "membership_source",
            "granted_at": "membership_granted_at",
            "expires_at": "membership_expires_at",
            "justification": "membership_justification",
            "ended_at": "state_ended_at",
            "last_error": "state_last_error",
        },
        columns=WHO_HAS_ACCESS_COLUMNS,
        key_names=("username", "access_group_name", "account_id", "row_id"),
        counter=partial(report_count, **filters),
    )
