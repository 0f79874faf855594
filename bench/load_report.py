"""What bench/load.py prints for each number of people: Locust's figures per page, the
work the people did (read from the database), and the CPU spent per request."""

from __future__ import annotations

import csv
from pathlib import Path

from django.db.models import Count, Q


def activity(before: dict[str, int] | None = None) -> dict[str, int]:
    """Requests sent and decisions made, in all or since ``before``."""
    from accessgroups.models import AccessRequest, Decision, DecisionOutcome

    now = {
        "requests sent": AccessRequest.objects.count(),
        **Decision.objects.aggregate(
            approvals=Count("pk", filter=Q(outcome=DecisionOutcome.APPROVE)),
            rejections=Count("pk", filter=Q(outcome=DecisionOutcome.REJECT)),
        ),
    }
    if before is None:
        return now
    return {kind: count - before[kind] for kind, count in now.items()}


def _ms(value: str) -> str:
    return f"{float(value):.0f}" if value not in ("", "N/A") else "-"


def print_level(
    *,
    people: int,
    stats: Path,
    failures: Path,
    settle: int,
    arrivals: str,
    start: tuple[float, dict[str, float]] | None,
    end: tuple[float, dict[str, float]],
    done: dict[str, int],
    web_log: Path,
) -> None:
    with stats.open() as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    pages = sorted((r for r in rows if r["Name"] != "Aggregated"), key=lambda r: r["Name"])
    print()
    print(f"{people} people, from {settle} s after the last arrived:")
    if arrivals:
        print(f"  before (arriving, signing in; not in the figures): {arrivals}")
    print(
        f"  {'page':<44} {'requests':>8} {'req/s':>6} {'p50':>5} {'p95':>5} {'p99':>5} {'fail':>5}"
    )
    for r in pages + [total]:
        name = "all" if r is total else f"{r['Type']} {r['Name']}"
        print(
            f"  {name:<44} {int(r['Request Count']):>8} {float(r['Requests/s']):>6.1f} "
            f"{_ms(r['50%']):>5} {_ms(r['95%']):>5} {_ms(r['99%']):>5} {int(r['Failure Count']):>5}"
        )
    print("  (times in ms)")
    with failures.open() as f:
        for r in csv.DictReader(f):
            print(f"  failed {r['Occurrences']}x: {r['Method']} {r['Name']}: {r['Error']}")
    print("  done in the database: " + ", ".join(f"{n} {kind}" for kind, n in done.items()))
    errors = sum(
        1 for line in web_log.read_text(errors="replace").splitlines() if "Traceback" in line
    )
    print(f"  tracebacks in the web log so far: {errors}")
    requests = int(total["Request Count"])
    if start is None or not requests:
        print("  CPU per request: not measured (Locust did not say when it began measuring)")
        return
    (t0, cpu0), (t1, cpu1) = start, end
    web = cpu1["web"] - cpu0["web"]
    pg = cpu1["postgres"] - cpu0["postgres"]
    print(
        f"  CPU per request: {web / requests * 1000:.1f} ms web (Python) + "
        f"{pg / requests * 1000:.1f} ms PostgreSQL = {(web + pg) / requests * 1000:.1f} ms "
        f"({requests} requests in {t1 - t0:.0f} s; web {web / (t1 - t0) * 100:.0f} % "
        f"and PostgreSQL {pg / (t1 - t0) * 100:.0f} % of one core)"
    )
