"""``/metrics``: the portal's state in Prometheus's text format (docs/operations.md, "Metrics").

Off (404) unless ``METRICS_TOKEN`` is set; then the scraper sends
``Authorization: Bearer <token>``. Everything is read at scrape time, for the whole fleet:
the database with one aggregate per kind of row, and the counters the workers keep in
the limits store (provisioning.counters). Nothing here is per web process, so it does
not matter which replica a scrape reaches.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterator
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Expression, Min, Q
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from accessgroups.access.selectors import removals_pending
from accessgroups.core.dispatch import in_scope
from accessgroups.models import DriftFinding, Provisioned, ProvisioningStatus
from provisioning import counters

logger = logging.getLogger(__name__)

WAITING = (ProvisioningStatus.PENDING, ProvisioningStatus.PROVISIONING)


def waiting_since(model: type[Provisioned]) -> Expression:
    """When a pending or provisioning row of ``model`` started waiting: the claim of a row a
    worker holds (renewed while it works, so a dead worker's row ages), else when the
    pending row became due (accessgroups.core.dispatch)."""
    return Coalesce("claimed_at", "due_at")


def provisioned_models() -> list[type[Provisioned]]:
    """Every kind of row with an Identity Center side (users, access groups, memberships...)."""
    return [m for m in apps.get_models() if issubclass(m, Provisioned)]


def kind_of(model: type) -> str:
    """``AccessGroup`` -> ``access_group``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


class PortalCollector(Collector):
    """Reads the portal's state when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        yield from self._provisioning()
        yield from self._removals()
        yield from self._drift()
        yield from self._counters()

    def _provisioning(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "portal_provisioning_rows",
            "Rows with an Identity Center side, by kind and provisioning status.",
            labels=["kind", "status"],
        )
        oldest = GaugeMetricFamily(
            "portal_provisioning_oldest_waiting_seconds",
            "Age of the oldest pending or provisioning row of a kind (0 when none waits).",
            labels=["kind"],
        )
        now = timezone.now()
        for model in provisioned_models():
            # One query per kind: a count per status and the oldest waiting row together.
            # Users nobody asked to onboard are not provisioning's business (in_scope).
            found = model._default_manager.filter(in_scope(model)).aggregate(
                **{
                    status.value: Count("pk", filter=Q(provisioning_status=status))
                    for status in ProvisioningStatus
                },
                oldest=Min(waiting_since(model), filter=Q(provisioning_status__in=WAITING)),
            )
            kind = kind_of(model)
            for status in ProvisioningStatus:
                rows.add_metric([kind, status.value], found[status.value])
            oldest.add_metric([kind], _age(now, found["oldest"]))
        yield rows
        yield oldest

    def _removals(self) -> Iterator[Metric]:
        found = removals_pending().aggregate(count=Count("pk"), oldest=Min("ended_at"))
        yield GaugeMetricFamily(
            "portal_removals_pending",
            "Ended memberships whose removal from Identity Center is not confirmed yet.",
            value=found["count"],
        )
        yield GaugeMetricFamily(
            "portal_removals_pending_oldest_seconds",
            "Time since the end of the oldest membership whose removal is not confirmed "
            "(0 when none).",
            value=_age(timezone.now(), found["oldest"]),
        )

    def _drift(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "portal_drift_findings_open",
            "Differences found between the portal and Identity Center, not resolved yet.",
            value=DriftFinding.objects.filter(resolved_at__isnull=True).count(),
        )

    def _counters(self) -> Iterator[Metric]:
        try:
            requests = counters.aws_requests()
            durations = counters.task_durations()
        except counters.StoreUnavailable as exc:
            # The database's metrics are still worth a scrape; this gauge says what is missing.
            logger.warning("/metrics: the counters' Redis cannot be read (%s).", exc)
            yield _store_up(0)
            return
        yield _store_up(1)
        calls = CounterMetricFamily(
            "portal_aws_requests",
            "HTTP attempts to AWS (botocore's retries included), by how they ended.",
            labels=["service", "operation", "outcome"],
        )
        for (service, operation, outcome), value in sorted(requests.items()):
            calls.add_metric([service, operation, outcome], value)
        yield calls
        tasks = HistogramMetricFamily(
            "portal_task_duration_seconds",
            "How long Celery tasks ran, by task name.",
            labels=["task"],
        )
        for name, runs in sorted(durations.items()):
            tasks.add_metric([name], buckets=runs.buckets, sum_value=runs.sum)
        yield tasks


def _store_up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "portal_metrics_store_up",
        "1 when the counters of AWS requests and task durations could be read, else 0.",
        value=value,
    )


def _age(now: datetime, moment: datetime | None) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


def authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time: how much of a guess was right must not show in the answer's timing.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        raise Http404  # not offered at all: nothing to guess
    if not authorized(request, token):
        response = HttpResponse(
            "A bearer token is required.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortalCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
