"""Business metrics read from a service's own database when Prometheus scrapes.

A service's ``metrics.py`` lists its queries; nothing on the request path counts
anything. Each scrape runs a few grouped ``COUNT`` queries over a recent window
(indexed columns), so the figures agree across replicas: every replica reports
the same database-wide numbers, and dashboards take ``max`` over instances.

One collector per service name is registered with prometheus_client's global
registry; building a service again in the same process (tests) replaces the
queries it runs rather than registering a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

# Rows of (label values..., count) for one gauge.
Rows = Iterable[Sequence[object]]


@dataclass(frozen=True)
class Gauge:
    """One gauge: its name, help, label names and the query that fills it."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    query: Callable[[Session], Rows]


class DatabaseCollector(Collector):
    def __init__(self, service: str, gauges: Sequence[Gauge]) -> None:
        self.service = service
        self.gauges = tuple(gauges)
        self.sessions: sessionmaker[Session] | None = None

    def describe(self) -> Iterator[Metric]:
        # Names only: registering must not query the database.
        for gauge in self.gauges:
            yield GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels)
        yield self._up(None)

    def collect(self) -> Iterator[Metric]:
        if self.sessions is None:
            return
        families = []
        try:
            with self.sessions() as session:
                for gauge in self.gauges:
                    family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels)
                    for row in gauge.query(session):
                        *labels, value = row
                        family.add_metric([str(v or "") for v in labels], float(str(value)))
                    families.append(family)
        except Exception as exc:
            # A scrape must not fail (and take the RPC metrics with it) because the
            # database is down or a query broke: say so instead.
            log.warning("business metrics unavailable: %s", type(exc).__name__)
            yield self._up(0.0)
            return
        yield from families
        yield self._up(1.0)

    def _up(self, value: float | None) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            f"gaap_{self.service}_business_metrics_up",
            "1 when the last scrape could read the business figures from the database.",
        )
        if value is not None:
            family.add_metric([], value)
        return family


_collectors: dict[str, DatabaseCollector] = {}


def register(service: str, gauges: Sequence[Gauge], sessions: sessionmaker[Session]) -> None:
    """Report ``gauges`` from ``sessions`` on this process's ``/metrics``."""
    collector = _collectors.get(service)
    if collector is None:
        collector = _collectors[service] = DatabaseCollector(service, gauges)
        REGISTRY.register(collector)
    collector.sessions = sessions


WINDOW = timedelta(hours=24)
