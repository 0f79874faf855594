"""Four eyes on the catalogue: change requests for access groups (docs/decisions/0018).

With CHANGE_APPROVAL=required an admin's create, update or archive of an access group is
proposed (``change_propose``) and another admin approves it (``change_approve``), which
applies it through the catalogue's own services: they check it again, record it in the audit
log and send provisioning after commit, as for any change. ``change_submit`` is the one
entry for callers that do not care which mode is on.

A proposal is checked exactly as the catalogue would apply it, by applying it in a
transaction that is rolled back (accessgroups.changes.preview): nothing is stored, nothing
is sent, and the refusal names the field as the access group endpoints do. Its changes,
plan and impact are that preview's.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accessgroups.catalogue import services as catalogue
from accessgroups.changes.config import config_diff, group_config
from accessgroups.changes.preview import change_preview
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict, InvalidTransition
from accessgroups.core.roles import require_admin
from accessgroups.mail.notify import notify_change_proposed
from accessgroups.models import (
    AccessGroup,
    ChangeAction,
    ChangeRequest,
    ChangeStatus,
    User,
)

REQUIRED = "required"
PROPOSER_CANNOT_APPROVE = "Another admin must approve a change you proposed."
ONLY_PROPOSER_WITHDRAWS = "Only the admin who proposed a change can withdraw it."
SUPERSEDED_MESSAGE = (
    "The access group changed after this was proposed: it is superseded. Propose it again."
)
ARCHIVED = {"archived": {"from": False, "to": True}}


def approval_required() -> bool:
    """Whether access group changes wait for a second admin (CHANGE_APPROVAL=required)."""
    return getattr(settings, "CHANGE_APPROVAL", "off") == REQUIRED


def _apply(
    *, actor: User, action: str, access_group: AccessGroup | None, fields: dict[str, Any]
) -> AccessGroup:
    """The change, through the catalogue's services (which check it, audit it, sync it)."""
    if action == ChangeAction.CREATE:
        return catalogue.access_group_create(actor=actor, **fields)
    if action == ChangeAction.UPDATE:
        return catalogue.access_group_update(actor=actor, access_group=access_group, **fields)
    return catalogue.access_group_archive(actor=actor, access_group=access_group)


def _check_shape(action: str, access_group: AccessGroup | None, fields: dict[str, Any]) -> None:
    if action not in ChangeAction.values:
        raise ValidationError({"action": f"Use one of: {', '.join(ChangeAction.values)}."})
    if action == ChangeAction.CREATE:
        if access_group is not None:
            raise ValidationError({"access_group": "A new access group has no id yet: send null."})
        if not fields.get("name"):
            raise ValidationError({"name": "Give the new access group a name."})
    elif access_group is None:
        raise ValidationError({"access_group": f"Name the access group to {action}."})


def change_propose(
    *,
    actor: User,
    action: str,
    access_group: AccessGroup | None = None,
    fields: dict[str, Any] | None = None,
    comment: str = "",
) -> ChangeRequest:
    """Propose creating, changing or archiving an access group; another admin decides.

    ``fields`` are as the REST API's AccessGroupIn takes them (shape already checked);
    they are checked here as the catalogue would apply them. Raises ValidationError keyed by
    field, PermissionDenied for a non-admin, InvalidTransition for an archived group.
    """
    require_admin(actor)
    fields = dict(fields or {})
    if action == ChangeAction.ARCHIVE:
        fields = {}
    _check_shape(action, access_group, fields)
    if access_group is not None:
        access_group = AccessGroup.objects.get(pk=access_group.pk)
        if access_group.is_archived:
            raise InvalidTransition("This access group has been archived.")
    # Checked as the catalogue would apply it, in a transaction rolled back (preview).
    preview = change_preview(actor=actor, action=action, access_group=access_group, fields=fields)
    with transaction.atomic():
        before = group_config(access_group) if access_group is not None else None
        if action == ChangeAction.ARCHIVE:
            changes = dict(ARCHIVED)
        else:
            changes = preview["changes"]
            if not changes:
                raise ValidationError({"fields": "This changes nothing in the access group."})
        change = ChangeRequest.objects.create(
            access_group=access_group,
            action=action,
            fields=fields,
            base_config=before,
            changes=changes,
            plan=list(preview["plan"]),
            impact=dict(preview["impact"]),
            proposed_by=actor,
            comment=(comment or "").strip(),
        )
        audit_record(
            action="change_request.proposed",
            actor=actor,
            obj=change,
            access_group=access_group,
            message=change.comment,
            data={
                "action": action,
                "name": change.group_name,
                "changes": changes,
                "plan": change.plan,
                "impact": change.impact,
            },
        )
        notify_change_proposed(change)
    return change


def _locked_pending(change: ChangeRequest) -> ChangeRequest:
    locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if locked.status != ChangeStatus.PENDING:
        raise InvalidTransition(
            f"This change request is {locked.get_status_display().lower()}; only pending "
            "ones can be decided."
        )
    return locked


def _is_stale(change: ChangeRequest) -> bool:
    """Whether the group changed since the proposal (for a create: the name was taken)."""
    if change.action == ChangeAction.CREATE:
        name = str(change.fields.get("name", ""))
        return AccessGroup.objects.live().filter(name__iexact=name).exists()
    group = AccessGroup.objects.select_for_update().get(pk=change.access_group_id)
    if group.is_archived:
        return True
    return bool(config_diff(change.base_config, group_config(group)))


def _supersede(change: ChangeRequest, *, actor: User | None, reason: str, now) -> None:
    change.status = ChangeStatus.SUPERSEDED
    change.decided_at = now
    change.decision_comment = reason
    change.save(update_fields=["status", "decided_at", "decision_comment"])
    audit_record(
        action="change_request.superseded",
        actor=actor,
        obj=change,
        access_group=change.access_group,
        message=reason,
        data={"action": change.action, "name": change.group_name, "changes": change.changes},
    )


def _others_of(change: ChangeRequest):
    others = ChangeRequest.objects.pending().exclude(pk=change.pk)
    if change.action == ChangeAction.CREATE:
        return others.filter(
            access_group__isnull=True, fields__name__iexact=change.fields.get("name", "")
        )
    return others.filter(access_group_id=change.access_group_id)


def change_approve(*, actor: User, change_request: ChangeRequest, comment: str = "") -> ChangeRequest:
    """Approve a pending change and apply it in the same transaction.

    Never the proposer's own (PermissionDenied). A change whose group changed since it was
    proposed is marked superseded and refused (Conflict); so are the other pending changes
    of the group once this one is applied. When the catalogue refuses the change (an account
    or approver gone meanwhile), its ValidationError or Conflict propagates and the request
    stays pending.
    """
    require_admin(actor)
    stale = False
    with transaction.atomic():
        change = _locked_pending(change_request)
        if change.proposed_by_id == actor.pk:
            raise PermissionDenied(PROPOSER_CANNOT_APPROVE)
        now = timezone.now()
        if _is_stale(change):
            _supersede(change, actor=actor, reason=SUPERSEDED_MESSAGE, now=now)
            stale = True
        else:
            group = _apply(
                actor=actor,
                action=change.action,
                access_group=change.access_group,
                fields=dict(change.fields),
            )
            change.access_group = group
            change.status = ChangeStatus.APPROVED
            change.decided_by = actor
            change.decided_at = now
            change.decision_comment = (comment or "").strip()
            change.save()
            audit_record(
                action="change_request.approved",
                actor=actor,
                obj=change,
                access_group=group,
                message=change.decision_comment,
                data={
                    "action": change.action,
                    "name": group.name,
                    "proposed_by": change.proposed_by.username,
                    "changes": change.changes,
                    "plan": change.plan,
                    "impact": change.impact,
                },
            )
            reason = f"Change request #{change.pk} was applied first."
            for other in _others_of(change).select_for_update():
                _supersede(other, actor=actor, reason=reason, now=now)
    if stale:
        raise Conflict(SUPERSEDED_MESSAGE)
    return change


def change_reject(*, actor: User, change_request: ChangeRequest, comment: str) -> ChangeRequest:
    """Reject a pending change, saying why; the proposer withdraws rather than rejects."""
    require_admin(actor)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": "Say why the change is rejected."})
    with transaction.atomic():
        change = _locked_pending(change_request)
        if change.proposed_by_id == actor.pk:
            raise PermissionDenied("You proposed this change: withdraw it instead.")
        change.status = ChangeStatus.REJECTED
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.decision_comment = comment
        change.save()
        audit_record(
            action="change_request.rejected",
            actor=actor,
            obj=change,
            access_group=change.access_group,
            message=comment,
            data={"action": change.action, "name": change.group_name, "changes": change.changes},
        )
    return change


def change_withdraw(*, actor: User, change_request: ChangeRequest) -> ChangeRequest:
    """The proposer takes a pending change back."""
    require_admin(actor)
    with transaction.atomic():
        change = ChangeRequest.objects.select_for_update().get(pk=change_request.pk)
        if change.proposed_by_id != actor.pk:
            raise PermissionDenied(ONLY_PROPOSER_WITHDRAWS)
        change = _locked_pending(change)
        change.status = ChangeStatus.WITHDRAWN
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.save()
        audit_record(
            action="change_request.withdrawn",
            actor=actor,
            obj=change,
            access_group=change.access_group,
            data={"action": change.action, "name": change.group_name},
        )
    return change


def change_submit(
    *,
    actor: User,
    action: str,
    access_group: AccessGroup | None = None,
    fields: dict[str, Any] | None = None,
) -> ChangeRequest | AccessGroup:
    """Propose the change when CHANGE_APPROVAL=required; otherwise apply it at once."""
    if approval_required():
        return change_propose(actor=actor, action=action, access_group=access_group, fields=fields)
    require_admin(actor)
    fields = dict(fields or {})
    _check_shape(action, access_group, fields if action != ChangeAction.ARCHIVE else {})
    return _apply(actor=actor, action=action, access_group=access_group, fields=fields)
