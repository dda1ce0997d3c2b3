"""Spans recorded in memory, for tests of what the services trace."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def in_memory(service: str = "gaap-test") -> tuple[TracerProvider, InMemorySpanExporter]:
    """A provider whose spans are exported to memory as each ends."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def recorded_text(spans: Sequence[ReadableSpan]) -> list[str]:
    """Every span name and attribute value, to check that nothing private is in them."""
    return [s.name for s in spans] + [
        str(value) for s in spans for value in (s.attributes or {}).values()
    ]
