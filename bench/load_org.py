"""The load test's organisation, in bulk (bench/load.py).

The who-has-access organisation of bench/report_export.py (10,000 users each in 5 of 1,000
access groups, each group granting 10 of 500 accounts: 500,000 report rows), plus what the
personas of bench/locustfile.py need to act on it:

- every user can sign in with one password (hashed once, as the portal hashes it);
- ``APPROVERS`` approvers (``user00000`` ...), each deciding for 1,000 / APPROVERS groups;
- ``AUDITORS`` auditors (``auditor00`` ...);
- 5,000 pending requests, from requesters other than the approvers, for groups they are not
  in, five waiting on each group (fifty in each approver's queue);
- an audit log of ``AUDIT_EVENTS`` events over the year before, chained and sealed as the
  portal writes them (the audit log page reads its newest; the portal's own events follow).

Requesters in the load test are the users after the approvers; each asks for groups at an
offset of 100 or more from their own (bench/locustfile.py), where nothing is pending yet.
"""

from __future__ import annotations

import argparse

PASSWORD = "load-test-password-1"
APPROVERS = 100
AUDITORS = 10
PENDING = 5000
AUDIT_EVENTS = 200_000
# What bench/locustfile.py logs when the measured seconds begin; bench/load.py waits for it.
MEASURING = "measuring from now"


def organisation_args(**overrides: int) -> argparse.Namespace:
    """The shape of bench/report_export.py's organisation, which ``_build`` reads."""
    shape = {
        "users": 10000,
        "groups": 1000,
        "accounts": 500,
        "accounts_per_group": 10,
        "groups_per_user": 5,
    }
    shape.update(overrides)
    return argparse.Namespace(**shape)


def build(args: argparse.Namespace, *, pending: int = PENDING) -> dict[str, int]:
    """Builds the organisation; returns what it made, by kind."""
    from django.contrib.auth.hashers import make_password

    from accessgroups.models import AccessGroup, AccessRequest, RequestStatus, User
    from bench.report_export import _build

    rows = _build(args)
    # One hash for everyone: the portal checks it as it would any other (PBKDF2, Django's
    # default), and hashing 10,000 passwords one by one would take longer than the rest.
    User.objects.update(password=make_password(PASSWORD))
    users = list(User.objects.filter(username__startswith="user").order_by("username"))
    groups = list(AccessGroup.objects.order_by("name"))
    approvers = users[:APPROVERS]

    through = AccessGroup.approvers.through
    through.objects.bulk_create(
        through(accessgroup_id=group.pk, user_id=approvers[g % APPROVERS].pk)
        for g, group in enumerate(groups)
    )
    User.objects.bulk_create(
        User(
            username=f"auditor{n:02d}",
            email=f"auditor{n:02d}@bench.example",
            password=make_password(PASSWORD),
            is_auditor=True,
        )
        for n in range(AUDITORS)
    )

    # The same number waiting on every group (so every approver has a queue), each from a
    # requester after the approvers whose own five groups lie 5 to 54 places before it.
    requesters = users[APPROVERS:]
    seen: set[tuple[int, int]] = set()
    waiting = []
    for n in range(pending):
        group_index = n % len(groups)
        u = (n * 7919) % len(requesters)
        for _ in range(len(requesters)):
            distance = (group_index - (APPROVERS + u) * args.groups_per_user) % len(groups)
            if 5 <= distance < 55 and (u, group_index) not in seen:
                break
            u = (u + 1) % len(requesters)
        else:
            continue
        seen.add((u, group_index))
        waiting.append(
            AccessRequest(
                requester=requesters[u],
                access_group=groups[group_index],
                justification="Load test: a request waiting for its approver.",
                status=RequestStatus.PENDING,
            )
        )
    AccessRequest.objects.bulk_create(waiting, batch_size=5000)
    events = seed_audit_log(AUDIT_EVENTS, approvers, requesters, groups)
    return {
        "users": len(users),
        "approvers": len(approvers),
        "auditors": AUDITORS,
        "access groups": len(groups),
        "accounts": args.accounts,
        "who-has-access rows": rows,
        "pending requests": len(waiting),
        "audit events": events,
    }


def seed_audit_log(count: int, actors: list, subjects: list, groups: list) -> int:
    """``count`` events a minute apart up to now, approvals of memberships and changes of
    groups, each chained to the one before and sealed (accessgroups.core.audit)."""
    from datetime import timedelta

    from django.utils import timezone

    from accessgroups.core.audit import GENESIS_HASH, event_content, event_hash, event_seal
    from accessgroups.models import AuditEvent

    start = timezone.now() - timedelta(minutes=count)
    previous = GENESIS_HASH
    batch = []
    for n in range(count):
        group, actor = groups[n % len(groups)], actors[n % len(actors)]
        event = AuditEvent(
            sequence=n + 1,
            created_at=start + timedelta(minutes=n),
            actor=actor,
            actor_username=actor.username,
            access_group=group,
            prev_hash=previous,
        )
        if n % 4:  # three in four: a membership approved
            subject = subjects[(n * 7919) % len(subjects)]
            event.action, event.object_type = "request.approved", "user"
            event.object_id, event.subject = str(subject.pk), subject
            event.message = "On call for the payments service this week."
            event.data = {"duration_hours": 8, "access_group_version": 1, "approvals": 1}
        else:  # a change to a group
            event.action, event.object_type = "access_group.updated", "accessgroup"
            event.object_id = str(group.pk)
            event.data = {"version": {"from": n, "to": n + 1}, "session_duration": "PT4H"}
        event.hash = previous = event_hash(previous, event_content(event))
        event.seal = event_seal(event.hash)
        batch.append(event)
        if len(batch) == 10_000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)
    return count
