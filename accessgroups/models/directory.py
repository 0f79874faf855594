"""Identity Center's own groups, as last read: who approves and who may request by group.

Groups come from the identity provider (SCIM) or are made in the console; the portal never
writes them. A worker reads them (provisioning.directory) every ``GROUP_SYNC_SECONDS`` and
on an admin's demand; pages and the workflow read only these rows, never AWS.

Members are kept as Identity Center user ids: a portal user is a member when their
``identity_center_user_id`` is among them. Only groups an access group names have their
members read (``members_synced_at``); the others are listed for the form.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accessgroups.models.identity import User


class IdentityCenterGroupQuerySet(models.QuerySet):
    def present(self) -> IdentityCenterGroupQuerySet:
        """Groups the last refresh still saw in Identity Center."""
        return self.filter(removed_at__isnull=True)

    def referenced(self) -> IdentityCenterGroupQuerySet:
        """Groups some live access group names as approver or eligible group."""
        return self.filter(
            Q(approver_for__archived_at__isnull=True, approver_for__isnull=False)
            | Q(eligible_for__archived_at__isnull=True, eligible_for__isnull=False)
        ).distinct()


class IdentityCenterGroup(models.Model):
    """One identity store group. ``removed_at``: the last refresh no longer saw it, so it has
    no members any more (nobody is entitled through a group that is gone); the row stays
    because access groups and the audit log name it."""

    group_id = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=1024)
    description = models.TextField(blank=True)
    # Members as of members_synced_at; null while they have never been read.
    member_count = models.PositiveIntegerField(null=True, blank=True)
    members_synced_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = IdentityCenterGroupQuerySet.as_manager()

    class Meta:
        ordering = ["display_name", "group_id"]
        constraints = [
            # Identity Center's display names are unique in a store.
            models.UniqueConstraint(
                "display_name",
                condition=Q(removed_at__isnull=True),
                name="identitycentergroup_name_unique_present",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class IdentityCenterGroupMember(models.Model):
    """An Identity Center user id in a group, as the last refresh of the group read it."""

    group = models.ForeignKey(IdentityCenterGroup, on_delete=models.CASCADE, related_name="members")
    user_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["group", "user_id"]
        constraints = [
            models.UniqueConstraint("group", "user_id", name="identitycentergroupmember_unique"),
        ]
        indexes = [models.Index(fields=["user_id"], name="icgroupmember_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class GroupSync(models.Model):
    """One refresh of the group cache: the claim that keeps it alone in the fleet, its result.

    At most one row is ``running``; a refresh that fails keeps the cache as it was and says
    why in ``error``, which admins see on the groups page.
    """

    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    running = models.BooleanField(default=True)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    groups = models.PositiveIntegerField(default=0)
    groups_read = models.PositiveIntegerField(default=0)
    members = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "running", condition=Q(running=True), name="groupsync_one_running"
            ),
        ]

    def __str__(self) -> str:
        return f"group refresh {self.pk} at {self.started_at:%Y-%m-%d %H:%M}"


# --- who approves, who may request: filters every query of the portal shares ---------------
#
# ``group_ref`` names the access group's id in the outer query: "pk" on AccessGroup,
# "access_group_id" on requests and memberships. Each is an EXISTS, so a page filtering by it
# stays one query and never returns a row twice.


def approves(user: User, group_ref: str = "pk") -> Q:
    """The access group names ``user`` as an approver, or one of its approver groups has them."""
    from accessgroups.models.catalogue import AccessGroup

    named = AccessGroup.approvers.through.objects.filter(
        accessgroup_id=OuterRef(group_ref), user_id=user.pk
    )
    condition = Q(Exists(named))
    ic_user_id = getattr(user, "identity_center_user_id", "")  # anonymous: none
    if ic_user_id:
        by_group = AccessGroup.approver_groups.through.objects.filter(
            accessgroup_id=OuterRef(group_ref),
            identitycentergroup__members__user_id=ic_user_id,
        )
        condition |= Q(Exists(by_group))
    return condition


def may_request(user: User, group_ref: str = "pk") -> Q:
    """The access group names no eligible group, or ``user`` is a member of one it names."""
    from accessgroups.models.catalogue import AccessGroup

    through = AccessGroup.eligible_groups.through.objects
    condition = ~Q(Exists(through.filter(accessgroup_id=OuterRef(group_ref))))
    ic_user_id = getattr(user, "identity_center_user_id", "")
    if ic_user_id:
        condition |= Q(
            Exists(
                through.filter(
                    accessgroup_id=OuterRef(group_ref),
                    identitycentergroup__members__user_id=ic_user_id,
                )
            )
        )
    return condition
