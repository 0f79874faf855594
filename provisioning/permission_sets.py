"""An access group's permission set: its settings, its policies, and pushing changes out.

The permission set is named after the access group. Identity Center (and the emulator
even more so) accepts two permission sets with one name, so a missing stored ARN is looked
up by name before anything is created. ARNs are never parsed: the emulator's differ in
shape from AWS's.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from accessgroups.core.audit import audit_record
from accessgroups.core.validators import parse_session_duration
from accessgroups.models import (
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    Account,
    PolicyKind,
    ProvisioningStatus,
)
from provisioning import aws, limits
from provisioning.errors import NotFoundError, PermanentError, TransientError
from provisioning.identity_center import record_drift, refuse_archived_owner, write
from provisioning.inline_policies import inline_policy_plan, parse_inline_policy, policy_text

logger = logging.getLogger(__name__)

# Identity Center's pattern and length for permission set descriptions.
_DESCRIPTION_UNSAFE = re.compile(r"[^\t\n\r\x20-\x7e\xa1-\xff]")
DESCRIPTION_MAX = 700

# ProvisionPermissionSet usually finishes in seconds; wait for a slot and for the result
# this long before handing the rest to a Celery retry.
PROVISION_SLOT_TIMEOUT = 300.0
PROVISION_WAIT_TIMEOUT = 900.0
PROVISION_FIRST_POLL = 1.0
PROVISION_MAX_POLL = 10.0


def description_for(group: AccessGroup) -> str:
    """The group's description in the characters and length a permission set accepts."""
    return _DESCRIPTION_UNSAFE.sub("?", group.description.strip())[:DESCRIPTION_MAX]


def ensure_permission_set(group: AccessGroup, *, check_accounts: list[Account]) -> tuple[str, bool]:
    """Make the group's permission set exist and match; return (ARN, whether it changed).

    ``check_accounts`` are the accounts whose assignment is not confirmed yet: every
    customer managed policy must exist there before the assignment is made.
    """
    inst = aws.instance()
    stale = ""
    described: dict[str, Any] | None = None
    arn = group.permission_set_arn
    if arn:
        try:
            described = aws.call(
                "sso-admin", "DescribePermissionSet", InstanceArn=inst.arn, PermissionSetArn=arn
            )["PermissionSet"]
        except NotFoundError:
            stale, arn = arn, ""
    if not arn:
        described = _find_by_name(group.name)
        arn = described["PermissionSetArn"] if described else ""
        if arn:
            refuse_archived_owner(group, permission_set_arn=arn)
    created = False
    if not arn:
        description = description_for(group)
        response = write(
            "sso-admin",
            "CreatePermissionSet",
            obj=group,
            access_group=group,
            result=lambda r: {"PermissionSetArn": r["PermissionSet"]["PermissionSetArn"]},
            InstanceArn=inst.arn,
            Name=group.name,
            SessionDuration=group.session_duration,
            **({"Description": description} if description else {}),
        )
        arn = response["PermissionSet"]["PermissionSetArn"]
        created = True
    if arn != group.permission_set_arn:
        AccessGroup.objects.filter(pk=group.pk).update(permission_set_arn=arn)
        group.permission_set_arn = arn
        if stale:
            record_drift(
                obj=group, access_group=group, what="permission set", old_id=stale, new_id=arn
            )
    changed = False
    if not created and described is not None:
        changed = _update_settings(group, arn, described)
    changed = _sync_policies(group, arn, check_accounts) or changed
    return arn, changed


def described_permission_sets(**list_params: Any) -> Iterator[dict[str, Any]]:
    """Every permission set of the instance, described: one DescribePermissionSet each.

    ``list_params`` go to ListPermissionSets (e.g. ``MaxResults``).
    """
    inst = aws.instance()
    for arn in aws.paginate(
        "sso-admin", "ListPermissionSets", "PermissionSets", InstanceArn=inst.arn, **list_params
    ):
        yield aws.call(
            "sso-admin", "DescribePermissionSet", InstanceArn=inst.arn, PermissionSetArn=arn
        )["PermissionSet"]


def _find_by_name(name: str) -> dict[str, Any] | None:
    matches = [ps for ps in described_permission_sets() if ps["Name"] == name]
    if len(matches) > 1:
        logger.warning("%d permission sets are named %s; using the oldest", len(matches), name)
        matches.sort(key=lambda ps: ps.get("CreatedDate") or 0)
    return matches[0] if matches else None


def _update_settings(group: AccessGroup, arn: str, described: dict[str, Any]) -> bool:
    description = description_for(group)
    # An empty description cannot be sent (AWS's minimum length is 1): leave the old one.
    description_differs = bool(description) and described.get("Description", "") != description
    duration_differs = parse_session_duration(
        described.get("SessionDuration", "")
    ) != parse_session_duration(group.session_duration)
    if not (description_differs or duration_differs):
        return False
    write(
        "sso-admin",
        "UpdatePermissionSet",
        obj=group,
        access_group=group,
        InstanceArn=aws.instance().arn,
        PermissionSetArn=arn,
        SessionDuration=group.session_duration,
        **({"Description": description} if description else {}),
    )
    return True


def _listed(operation: str, result_key: str, arn: str, **list_params: Any) -> Iterator[Any]:
    return aws.paginate(
        "sso-admin",
        operation,
        result_key,
        InstanceArn=aws.instance().arn,
        PermissionSetArn=arn,
        **list_params,
    )


def attached_managed_policies(arn: str, **list_params: Any) -> set[str]:
    """ARNs of the AWS managed policies attached to the permission set."""
    listed = _listed(
        "ListManagedPoliciesInPermissionSet", "AttachedManagedPolicies", arn, **list_params
    )
    return {p["Arn"] for p in listed}


def attached_customer_managed_policies(arn: str, **list_params: Any) -> set[tuple[str, str]]:
    """(path, name) of the customer managed policies the permission set refers to."""
    listed = _listed(
        "ListCustomerManagedPolicyReferencesInPermissionSet",
        "CustomerManagedPolicyReferences",
        arn,
        **list_params,
    )
    return {(p.get("Path") or "/", p["Name"]) for p in listed}


def inline_policy_text(arn: str) -> str:
    """The permission set's inline policy as Identity Center holds it ("" when none)."""
    return (
        aws.call(
            "sso-admin",
            "GetInlinePolicyForPermissionSet",
            InstanceArn=aws.instance().arn,
            PermissionSetArn=arn,
        ).get("InlinePolicy")
        or ""
    )


def _sync_policies(group: AccessGroup, arn: str, check_accounts: list[Account]) -> bool:
    inst = aws.instance()
    policies = list(group.current_policies())
    common = {"InstanceArn": inst.arn, "PermissionSetArn": arn}
    changed = False

    wanted_managed = {p.arn for p in policies if p.kind == PolicyKind.AWS_MANAGED}
    attached_managed = attached_managed_policies(arn)
    # Detach first: with the quota at its limit, a swap only fits in this order.
    for policy_arn in sorted(attached_managed - wanted_managed):
        write(
            "sso-admin",
            "DetachManagedPolicyFromPermissionSet",
            obj=group,
            access_group=group,
            ManagedPolicyArn=policy_arn,
            **common,
        )
        changed = True

    wanted_customer = {
        (p.path or "/", p.name) for p in policies if p.kind == PolicyKind.CUSTOMER_MANAGED
    }
    attached_customer = attached_customer_managed_policies(arn)
    for path, name in sorted(attached_customer - wanted_customer):
        write(
            "sso-admin",
            "DetachCustomerManagedPolicyReferenceFromPermissionSet",
            obj=group,
            access_group=group,
            CustomerManagedPolicyReference={"Name": name, "Path": path},
            **common,
        )
        changed = True

    # Every customer managed policy must exist in every account before it is used there:
    # new policies in all accounts, all policies in accounts not yet assigned.
    new_customer = wanted_customer - attached_customer
    _check_customer_managed_policies(
        group,
        [(account, new_customer) for account in group.current_accounts()]
        + [(account, wanted_customer - new_customer) for account in check_accounts],
    )

    for policy_arn in sorted(wanted_managed - attached_managed):
        write(
            "sso-admin",
            "AttachManagedPolicyToPermissionSet",
            obj=group,
            access_group=group,
            ManagedPolicyArn=policy_arn,
            **common,
        )
        changed = True
    for path, name in sorted(new_customer):
        write(
            "sso-admin",
            "AttachCustomerManagedPolicyReferenceToPermissionSet",
            obj=group,
            access_group=group,
            CustomerManagedPolicyReference={"Name": name, "Path": path},
            **common,
        )
        changed = True

    return _sync_inline_policy(group, policies, common) or changed


def _sync_inline_policy(
    group: AccessGroup, policies: list[AccessGroupPolicy], common: dict[str, str]
) -> bool:
    plan = inline_policy_plan(group, policies)
    wanted = plan.document
    current = parse_inline_policy(inline_policy_text(common["PermissionSetArn"]))
    if wanted == current:
        return False
    if wanted is None:
        write(
            "sso-admin",
            "DeleteInlinePolicyFromPermissionSet",
            obj=group,
            access_group=group,
            **common,
        )
    else:
        write(
            "sso-admin",
            "PutInlinePolicyToPermissionSet",
            obj=group,
            access_group=group,
            InlinePolicy=policy_text(wanted),
            **common,
        )
        if plan.left_out:
            _record_overflow(group, plan.left_out)
    return True


def _record_overflow(group: AccessGroup, left_out: list[str]) -> None:
    """Say, once per policy sent, whose running sessions the permission set cannot deny."""
    logger.warning(
        "The inline policy of %s has no room to deny the sessions of %d more people: %s",
        group.name,
        len(left_out),
        ", ".join(left_out),
    )
    audit_record(
        action="session.revocation_overflow",
        obj=group,
        access_group=group,
        message=(
            f"The inline policy of {group.name} is full: the sessions of {len(left_out)} "
            "people whose access ended cannot be denied and run until they expire. Shorten "
            "the group's own inline policy or its session duration."
        ),
        data={"left_out": left_out},
    )


def _check_customer_managed_policies(
    group: AccessGroup, pairs: list[tuple[Account, set[tuple[str, str]]]]
) -> None:
    """Raise PermanentError naming each (account, policy) where the policy does not exist.

    Runs only when settings.MEMBER_ACCOUNT_ROLE_NAME names a role the portal can assume in
    member accounts; where it cannot, the check is skipped and a failed assignment will
    tell instead.
    """
    role = settings.MEMBER_ACCOUNT_ROLE_NAME
    wanted: dict[str, tuple[Account, set[tuple[str, str]]]] = {}
    for account, refs in pairs:
        if refs:
            entry = wanted.setdefault(account.account_id, (account, set()))
            entry[1].update(refs)
    if not role or not wanted:
        return
    problems: list[str] = []
    for account_id, (account, refs) in sorted(wanted.items()):
        try:
            iam = aws.member_account_client("iam", account_id=account_id, role_name=role)
        except (PermanentError, TransientError) as exc:
            logger.info(
                "Cannot check customer managed policies in %s (role %s): %s", account_id, role, exc
            )
            continue
        missing = []
        for path, name in sorted(refs):
            try:
                aws.call(
                    "iam",
                    "GetPolicy",
                    via=iam,
                    PolicyArn=f"arn:aws:iam::{account_id}:policy{path}{name}",
                )
            except NotFoundError:
                missing.append(f"{path}{name}")
            except PermanentError as exc:
                logger.info("Cannot read policy %s%s in %s: %s", path, name, account_id, exc)
        if missing:
            message = (
                f"The customer managed {'policy' if len(missing) == 1 else 'policies'} {', '.join(missing)} "
                f"{'does' if len(missing) == 1 else 'do'} not exist in account {account_id} ({account.name}): "
                "create it there with the same name and path, or remove it from the access group, then retry."
            )
            AccessGroupAccount.objects.filter(
                access_group=group, account=account, valid_to__isnull=True
            ).update(provisioning_status=ProvisioningStatus.FAILED, last_error=message)
            problems.append(message)
    if problems:
        raise PermanentError(" ".join(problems))


def push_to_accounts(group: AccessGroup, arn: str) -> None:
    """ProvisionPermissionSet to every account it is assigned to, and wait for the result.

    At most settings.MAX_CONCURRENT_PERMISSION_SET_PROVISIONS run at once in the fleet.
    """
    inst = aws.instance()
    semaphore = limits.permission_set_provision_semaphore()
    try:
        token = semaphore.acquire(timeout=PROVISION_SLOT_TIMEOUT)
    except TimeoutError:
        raise TransientError(
            f"Waiting for a free ProvisionPermissionSet slot to update the accounts of {group.name}."
        ) from None
    except limits.LimiterUnavailable as exc:
        raise TransientError(
            f"Waiting for the limits store before updating {group.name}'s accounts: {exc}"
        ) from exc
    try:
        status = write(
            "sso-admin",
            "ProvisionPermissionSet",
            obj=group,
            access_group=group,
            result=lambda r: {
                "RequestId": r["PermissionSetProvisioningStatus"].get("RequestId", ""),
                "Status": r["PermissionSetProvisioningStatus"].get("Status", ""),
            },
            InstanceArn=inst.arn,
            PermissionSetArn=arn,
            TargetType="ALL_PROVISIONED_ACCOUNTS",
        )["PermissionSetProvisioningStatus"]
        deadline = time.monotonic() + PROVISION_WAIT_TIMEOUT
        interval = PROVISION_FIRST_POLL
        # Poll only while the answer we hold says IN_PROGRESS (the emulator cannot be asked).
        while status.get("Status") == "IN_PROGRESS":
            if time.monotonic() > deadline:
                raise TransientError(
                    f"Updating the accounts of {group.name} is still in progress; will check again."
                )
            time.sleep(interval)
            interval = min(interval * 2, PROVISION_MAX_POLL)
            semaphore.refresh(token)
            status = aws.call(
                "sso-admin",
                "DescribePermissionSetProvisioningStatus",
                InstanceArn=inst.arn,
                ProvisionPermissionSetRequestId=status["RequestId"],
            )["PermissionSetProvisioningStatus"]
        if status.get("Status") == "FAILED":
            raise PermanentError(
                f"Pushing the changed permission set {group.name} to its accounts failed: "
                f"{status.get('FailureReason') or 'no reason given'}. Fix the cause and retry the access group."
            )
    finally:
        semaphore.release(token)
