"""The catalogue: accounts and access groups, with their approvers, accounts and policies.

Access groups keep their history: a changed account or policy list end-dates the rows
that left and adds rows for what arrived, so "what did this group grant on date D" can be
answered later. Provisioning runs after commit; nothing here calls AWS.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accessgroups.access import policies
from accessgroups.access.selectors import VERSIONED_FIELDS
from accessgroups.access.services import membership_end
from accessgroups.catalogue.risk import risk_suggested_for
from accessgroups.core import sync, validators
from accessgroups.core.audit import audit_record
from accessgroups.core.errors import Conflict, InvalidTransition
from accessgroups.core.roles import require_admin
from accessgroups.directory.services import (
    GROUP_FIELDS,
    group_entitlement_changes,
    require_an_approver,
    resolve_group_names,
)
from accessgroups.models import (
    AccessGroup,
    AccessGroupPolicy,
    Account,
    AccountSource,
    EndReason,
    PolicyKind,
    ProvisioningStatus,
    RequestStatus,
    User,
)
from accessgroups.organizations.links import group_links_apply
from accessgroups.organizations.services import organizational_units_resolve

_UNSET: Any = object()


# --- accounts -----------------------------------------------------------------------------


def account_create(*, actor: User, account_id: str, name: str, email: str = "") -> Account:
    require_admin(actor)
    account_id = validators.validate_account_id(account_id)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the account a name."})
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": "Enter a valid email address."}) from None
    if Account.objects.filter(account_id=account_id).exists():
        raise ValidationError({"account_id": "This account is already known."})
    with transaction.atomic():
        account = Account.objects.create(account_id=account_id, name=name, email=email, source=AccountSource.MANUAL)
        audit_record(action="account.created", actor=actor, obj=account, data={"account_id": account_id, "name": name})
    return account


def accounts_sync(*, actor: User) -> None:
    """Ask a worker to read the accounts from AWS Organizations."""
    require_admin(actor)
    with transaction.atomic():
        audit_record(action="account.sync_requested", actor=actor)
        sync.accounts_sync_on_commit(actor.pk)


# --- access groups ------------------------------------------------------------------------


def _resolve_accounts(account_ids: Iterable[str]) -> list[Account]:
    ids = [validators.validate_account_id(a, field="accounts") for a in account_ids]
    if len(set(ids)) != len(ids):
        raise ValidationError({"accounts": "Each account may be listed once."})
    found = {a.account_id: a for a in Account.objects.filter(account_id__in=ids)}
    unknown = [a for a in ids if a not in found]
    if unknown:
        raise ValidationError({"accounts": f"Unknown account(s): {', '.join(unknown)}. Add or sync them first."})
    return [found[a] for a in ids]


def _resolve_approvers(usernames: Iterable[str]) -> list[User]:
    names = list(usernames)
    found = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValidationError({"approvers": f"No active user named {', '.join(map(repr, unknown))}."})
    return list(found.values())


def _clean_group_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate what an admin sent for an access group; returns cleaned values."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}

    def check(field: str, fn, *args) -> None:
        try:
            cleaned[field] = fn(*args)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)

    if "name" in fields:
        check("name", validators.validate_group_name, fields["name"])
    if "session_duration" in fields:
        check("session_duration", validators.validate_session_duration, fields["session_duration"])
    if "aws_managed_policies" in fields:
        check("aws_managed_policies", validators.validate_managed_policy_arns, list(fields["aws_managed_policies"]))
    if "customer_managed_policies" in fields:
        check(
            "customer_managed_policies",
            validators.validate_customer_managed_policies,
            list(fields["customer_managed_policies"]),
        )
    if "inline_policy" in fields:
        check("inline_policy", validators.validate_inline_policy, fields["inline_policy"])
    if "max_duration_hours" in fields:
        check("max_duration_hours", validators.validate_max_duration, fields["max_duration_hours"])
    if "accounts" in fields:
        check("accounts", _resolve_accounts, fields["accounts"])
    if "approvers" in fields:
        check("approvers", _resolve_approvers, fields["approvers"])
    if "organizational_units" in fields:
        check("organizational_units", organizational_units_resolve, fields["organizational_units"])
    for field in GROUP_FIELDS:
        if field in fields:
            check(field, lambda names, f=field: resolve_group_names(names, field=f), fields[field])
    for text in ("description", "applications_note"):
        if text in fields:
            cleaned[text] = (fields[text] or "").strip()
    if "requestable" in fields:
        cleaned["requestable"] = bool(fields["requestable"])
    if "approvals_required" in fields:
        check("approvals_required", policies.clean_approvals_required, fields["approvals_required"])
    if "risk" in fields:
        check("risk", policies.clean_risk, fields["risk"])
    for switch in ("auto_approve", "break_glass"):
        if switch in fields:
            cleaned[switch] = bool(fields[switch])
    if errors:
        raise ValidationError(errors)
    return cleaned


def access_group_fields_check(fields: dict[str, Any]) -> None:
    """Check each of ``fields`` on its own, as create and update do first (its shape, known
    accounts, approvers, OUs and groups); raises ValidationError keyed by field.

    For a form that has errors of its own: checking what it did accept as well reports
    every field's error in one answer, rather than the service's on the next submit.
    """
    _clean_group_fields(fields)


def _policy_keys(group: AccessGroup) -> tuple[dict, dict, AccessGroupPolicy | None]:
    managed, customer, inline = {}, {}, None
    for policy in group.current_policies():
        if policy.kind == PolicyKind.AWS_MANAGED:
            managed[policy.arn] = policy
        elif policy.kind == PolicyKind.CUSTOMER_MANAGED:
            customer[(policy.path, policy.name)] = policy
        else:
            inline = policy
    return managed, customer, inline


def _apply_versions(
    group: AccessGroup, cleaned: dict[str, Any], now, actor: User | None = None
) -> dict[str, Any]:
    """End-date what left, add what arrived; returns the changes for the audit log."""
    changes: dict[str, Any] = {}
    managed, customer, inline = _policy_keys(group)
    ended: list[int] = []
    added: list[AccessGroupPolicy] = []

    if "aws_managed_policies" in cleaned:
        wanted = cleaned["aws_managed_policies"]
        gone = [arn for arn in managed if arn not in wanted]
        new = [arn for arn in wanted if arn not in managed]
        ended += [managed[arn].pk for arn in gone]
        added += [AccessGroupPolicy(access_group=group, kind=PolicyKind.AWS_MANAGED, arn=a, valid_from=now) for a in new]
        if gone or new:
            changes["aws_managed_policies"] = {"added": new, "removed": gone}
    if "customer_managed_policies" in cleaned:
        wanted = [(c["path"], c["name"]) for c in cleaned["customer_managed_policies"]]
        gone = [key for key in customer if key not in wanted]
        new = [key for key in wanted if key not in customer]
        ended += [customer[key].pk for key in gone]
        added += [
            AccessGroupPolicy(access_group=group, kind=PolicyKind.CUSTOMER_MANAGED, path=p, name=n, valid_from=now)
            for p, n in new
        ]
        if gone or new:
            changes["customer_managed_policies"] = {
                "added": [p + n for p, n in new],
                "removed": [p + n for p, n in gone],
            }
    if "inline_policy" in cleaned:
        wanted = cleaned["inline_policy"]
        current = inline.document if inline else None
        if wanted != current:
            if inline:
                ended.append(inline.pk)
            if wanted is not None:
                added.append(AccessGroupPolicy(access_group=group, kind=PolicyKind.INLINE, document=wanted, valid_from=now))
            changes["inline_policy"] = {"set": wanted is not None}
    if ended:
        AccessGroupPolicy.objects.filter(pk__in=ended).update(valid_to=now)
    if added:
        AccessGroupPolicy.objects.bulk_create(added)

    if "accounts" in cleaned or "organizational_units" in cleaned:
        # Explicit accounts and accounts by OU (accessgroups.organizations.links).
        changes.update(
            group_links_apply(
                group,
                now=now,
                actor=actor,
                accounts=cleaned.get("accounts"),
                organizational_units=cleaned.get("organizational_units"),
            )
        )
    return changes


def access_group_clean_new(fields: dict[str, Any]) -> dict[str, Any]:
    """Check the fields of a new access group; returns them cleaned.

    Shared by access_group_create and the import from Identity Center (accessgroups.adoption.services).
    Raises ValidationError keyed by field, also when a live access group has the name.
    """
    fields = dict(fields)
    fields.setdefault("session_duration", "PT1H")
    for key in ("accounts", "aws_managed_policies", "customer_managed_policies", "approvers", *GROUP_FIELDS):
        fields.setdefault(key, [])
    fields.setdefault("inline_policy", None)
    cleaned = _clean_group_fields(fields)
    validators.validate_policy_quota(len(cleaned["aws_managed_policies"]), len(cleaned["customer_managed_policies"]))
    # Unless the admin chose, the portal's suggestion: high for a permission set that
    # grants (nearly) everything.
    cleaned.setdefault(
        "risk", risk_suggested_for(cleaned["aws_managed_policies"], cleaned["inline_policy"])
    )
    policies.validate_group_policies(
        approvals_required=cleaned.get("approvals_required", 1),
        auto_approve=cleaned.get("auto_approve", False),
        risk=cleaned["risk"],
        approvers=cleaned["approvers"],
        approver_groups=cleaned["approver_groups"],
    )
    if AccessGroup.objects.live().filter(name__iexact=cleaned["name"]).exists():
        raise ValidationError({"name": "An access group with this name exists."})
    return cleaned


def access_group_insert(
    cleaned: dict[str, Any], *, now: datetime, actor: User | None = None, **columns: Any
) -> tuple[AccessGroup, dict[str, Any]]:
    """Insert a new access group's rows: the group, its approvers, its dated policies and accounts.

    ``cleaned`` comes from access_group_clean_new; ``columns`` are further AccessGroup fields
    (an import's Identity Center ids and status). Returns the group and its changes for the
    audit log; raises Conflict when another admin took the name meanwhile. Call it inside a
    transaction; it enqueues nothing.
    """
    try:
        with transaction.atomic():
            group = AccessGroup.objects.create(
                name=cleaned["name"],
                description=cleaned.get("description", ""),
                session_duration=cleaned["session_duration"],
                requestable=cleaned.get("requestable", True),
                max_duration_hours=cleaned.get("max_duration_hours"),
                applications_note=cleaned.get("applications_note", ""),
                approvals_required=cleaned.get("approvals_required", 1),
                auto_approve=cleaned.get("auto_approve", False),
                break_glass=cleaned.get("break_glass", False),
                risk=cleaned.get("risk", "normal"),
                created_at=now,
                **columns,
            )
    except IntegrityError:
        raise Conflict("An access group with this name was just created.", field="name") from None
    group.approvers.set(cleaned["approvers"])
    changes = _apply_versions(group, cleaned, now, actor)
    changes.update(group_entitlement_changes(group, cleaned))
    require_an_approver(group)
    return group, changes


def access_group_create(*, actor: User, name: str, **fields: Any) -> AccessGroup:
    """Create an access group; a worker then creates its Identity Center side."""
    require_admin(actor)
    cleaned = access_group_clean_new({"name": name, **fields})
    with transaction.atomic():
        group, changes = access_group_insert(cleaned, now=timezone.now(), actor=actor)
        audit_record(
            action="access_group.created",
            actor=actor,
            obj=group,
            access_group=group,
            data={
                **changes,
                "session_duration": group.session_duration,
                "approvers": sorted(u.username for u in cleaned["approvers"]),
                "requestable": group.requestable,
                "max_duration_hours": group.max_duration_hours,
                **{field: getattr(group, field) for field in policies.POLICY_FIELDS},
            },
        )
        sync.sync_on_commit(AccessGroup, group.pk)
    return group


def access_group_update(*, actor: User, access_group: AccessGroup, **fields: Any) -> AccessGroup:
    """Change an access group. Its name is fixed: Identity Center cannot rename a permission set."""
    require_admin(actor)
    if access_group.is_archived:
        raise InvalidTransition("This access group has been archived.")
    if "name" in fields and fields["name"] != access_group.name:
        raise ValidationError({"name": "The name cannot be changed; Identity Center cannot rename a permission set."})
    fields.pop("name", None)
    cleaned = _clean_group_fields(fields)
    with transaction.atomic():
        group = AccessGroup.objects.select_for_update().get(pk=access_group.pk)
        managed, customer, _ = _policy_keys(group)
        validators.validate_policy_quota(
            len(cleaned.get("aws_managed_policies", managed)),
            len(cleaned.get("customer_managed_policies", customer)),
        )
        now = timezone.now()
        changes = _apply_versions(group, cleaned, now, actor)
        # Checked when a change touches them: an approver deactivated since must not make
        # an unrelated change (a description) fail.
        if cleaned.keys() & {*policies.QUORUM_INPUTS, "approvers", "approver_groups"}:
            policies.validate_group_policies(
                **{
                    f: cleaned.get(f, getattr(group, f))
                    for f in ("approvals_required", "auto_approve", "risk")
                },
                approvers=cleaned["approvers"] if "approvers" in cleaned else group.approvers.all(),
                approver_groups=cleaned.get("approver_groups", group.approver_groups.all()),
            )
        for field in (
            "description",
            "session_duration",
            "requestable",
            "max_duration_hours",
            "applications_note",
            *policies.POLICY_FIELDS,
        ):
            if field in cleaned and getattr(group, field) != cleaned[field]:
                changes[field] = {"from": getattr(group, field), "to": cleaned[field]}
                setattr(group, field, cleaned[field])
        if "approvers" in cleaned:
            before = set(group.approvers.values_list("username", flat=True))
            after = {u.username for u in cleaned["approvers"]}
            if before != after:
                group.approvers.set(cleaned["approvers"])
                changes["approvers"] = {"added": sorted(after - before), "removed": sorted(before - after)}
        changes.update(group_entitlement_changes(group, cleaned))
        if changes.keys() & {"approvers", "approver_groups", "requestable"}:
            require_an_approver(group)
        if not changes:
            return group
        if changes.keys() & VERSIONED_FIELDS:
            # The row is locked: no other change can take the same number.
            changes["version"] = {"from": group.version, "to": group.version + 1}
            group.version += 1
        group.save()
        # Only what Identity Center holds needs another provisioning run.
        if changes.keys() & {"description", "session_duration", "aws_managed_policies",
                             "customer_managed_policies", "inline_policy", "accounts"}:
            sync.request_sync(group)
        audit_record(action="access_group.updated", actor=actor, obj=group, access_group=group, data=changes)
    group.refresh_from_db()
    return group


def access_group_archive(*, actor: User, access_group: AccessGroup) -> AccessGroup:
    """Delete = archive: cancel pending requests, end memberships, tear down in Identity Center."""
    require_admin(actor)
    with transaction.atomic():
        group = AccessGroup.objects.select_for_update().get(pk=access_group.pk)
        if group.is_archived:
            raise InvalidTransition("This access group is already archived.")
        now = timezone.now()
        cancelled = group.requests.open().update(status=RequestStatus.CANCELLED, updated_at=now)
        ended = 0
        for membership in group.memberships.active().select_related("user", "access_group"):
            # The group itself is deleted from Identity Center, taking its memberships along.
            ended += membership_end(membership, reason=EndReason.ARCHIVED, by=actor, enqueue_sync=False)
        group.account_links.filter(valid_to__isnull=True).update(
            valid_to=now, provisioning_status=ProvisioningStatus.PENDING, last_error=""
        )
        group.policies.filter(valid_to__isnull=True).update(valid_to=now)
        AccessGroup.objects.filter(pk=group.pk).update(
            archived_at=now, requestable=False, last_error="", **sync.pending_fields()
        )
        audit_record(
            action="access_group.archived",
            actor=actor,
            obj=group,
            access_group=group,
            data={"requests_cancelled": cancelled, "memberships_ended": ended},
        )
        sync.sync_on_commit(AccessGroup, group.pk)
    group.refresh_from_db()
    return group
