"""Traces leave the process scrubbed like log lines: an exception's message and
stack trace (recorded on the span by the instrumentations) and a span's status
never carry the row data a database error quotes, nor a credential."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from services.runtime import tracing
from services.runtime.config import PlatformSettings

EMAIL = "alice.private@example.com"
ERROR_TEXT = (
    'duplicate key value violates unique constraint "payments_email"\n'
    f"DETAIL:  Key (email)=({EMAIL}) already exists."
)
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ2VuY3kifQ.c2lnbmF0dXJlLWJ5dGVz"


def test_exception_events_and_status_are_scrubbed_before_export() -> None:
    exporter = InMemorySpanExporter()
    provider = tracing.configure("test", PlatformSettings(), exporter=exporter)
    assert provider is not None
    tracer = provider.get_tracer(__name__)
    with tracer.start_as_current_span("POST /pay/{id}") as span:
        span.set_attribute("note", f"authorization: Bearer {TOKEN}")
        span.record_exception(RuntimeError(ERROR_TEXT))
        span.set_status(Status(StatusCode.ERROR, ERROR_TEXT))
    provider.shutdown()

    (exported,) = exporter.get_finished_spans()
    texts = [str(v) for v in (exported.attributes or {}).values()]
    texts += [str(v) for e in exported.events for v in (e.attributes or {}).values()]
    texts.append(exported.status.description or "")
    assert not [t for t in texts if EMAIL in t or TOKEN in t]
    # What is left still says what happened, and where.
    (event,) = exported.events
    assert event.name == "exception"
    assert "duplicate key value" in str((event.attributes or {})["exception.message"])
    assert "DETAIL: [redacted]" in str((event.attributes or {})["exception.message"])
    assert exported.status.status_code == StatusCode.ERROR
    assert exported.name == "POST /pay/{id}"
