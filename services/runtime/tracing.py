"""OpenTelemetry tracing, off unless ``GAAP_OTEL_ENDPOINT`` names an OTLP gRPC collector.

When on, a service traces:

- every gRPC call it serves (the instrumentation's server interceptor,
  outermost, so the span covers auth and errors too);
- every HTTP request to its pages and endpoints (the ASGI middleware: sign-in,
  the payment page, the token endpoint, webhooks from Stripe, receipts);
- every SQL statement run within a traced call, as a child span: through
  SQLAlchemy (the statement text, never its parameters) and through
  ``DirectSql``;
- every outbound HTTP request made with httpx (agency webhooks, status
  callbacks, back-channel logout, SMS providers, JWKS fetches), which also
  carries the trace on to the receiver in ``traceparent``.

The W3C ``traceparent`` of an incoming call or request continues the caller's
trace, and work queued for later (a notification) keeps the ``traceparent`` of
the call that queued it, so the worker's span joins that trace. Spans go in
batches to the collector. When tracing is off, only OpenTelemetry's small API
package is loaded (to read the current span, which is then always invalid):
nothing of the SDK or the instrumentations is imported, wrapped or exported.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.trace import get_current_span

from services.runtime.config import PlatformSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import grpc
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.engine import Engine
    from starlette.types import ASGIApp

    from services.runtime.direct_sql import DirectSql


def configure(
    service: str, platform: PlatformSettings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """A tracer provider for ``service``; ``None`` when tracing is off.

    ``exporter`` replaces the OTLP exporter (tests pass an in-memory one and get
    spans exported as each ends)."""
    if exporter is None and not platform.otel_endpoint:
        return None
    # Imported only when tracing is on: a process without it pays nothing.
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"gaap-{service}"}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(_scrubbing(exporter)))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = platform.otel_endpoint
        otlp = OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
        provider.add_span_processor(BatchSpanProcessor(_scrubbing(otlp)))
    return provider


def _scrubbing(inner: SpanExporter) -> SpanExporter:
    """``inner`` behind the logs' redaction: the instrumentations record an
    exception's message and stack trace on the span (``exception`` events) and in
    its status, and a database error's text quotes row data (PostgreSQL's DETAIL),
    so traces get the same scrubbing as log lines before they leave the process."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Status

    from services.runtime.logs import scrub

    def clean(attributes: Any) -> dict[str, Any]:
        return {k: scrub(v) if isinstance(v, str) else v for k, v in (attributes or {}).items()}

    def scrubbed(span: ReadableSpan) -> ReadableSpan:
        description = span.status.description
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=clean(span.attributes),
            events=[Event(e.name, clean(e.attributes), e.timestamp) for e in span.events],
            links=span.links,
            kind=span.kind,
            status=Status(span.status.status_code, description and scrub(description)),
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    class Scrubbing(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return inner.export([scrubbed(span) for span in spans])

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return inner.force_flush(timeout_millis)

    return Scrubbing()


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span this thread or task is in; ``None``
    when there is none (always, with tracing off). Stored with work that another
    process finishes later (a queued notification), to continue the trace there."""
    context = get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def context_from(traceparent: str | None) -> Context | None:
    """The context a stored ``traceparent`` names (``None``: a new trace)."""
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def server_interceptors(provider: TracerProvider | None) -> list[grpc.ServerInterceptor[Any, Any]]:
    """The server interceptor that opens a span per call (none when tracing is off)."""
    if provider is None:
        return []
    from opentelemetry.instrumentation.grpc import server_interceptor

    interceptor: grpc.ServerInterceptor[Any, Any] = server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=provider
    )
    return [interceptor]


def traced_http_app(
    factory: Callable[[Callable[[], bool]], ASGIApp], provider: TracerProvider | None
) -> Callable[[Callable[[], bool]], ASGIApp]:
    """The service's HTTP app factory, its apps wrapped in a span per request.

    Span names and URL attributes carry the redacted path only (``redacted_path``)
    and no query: a payment page's path is a bearer capability, and sign-in URLs
    carry login hints and ID tokens. Probes and metrics scrapes are not traced."""
    if provider is None:
        return factory
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    def build(ready: Callable[[], bool]) -> ASGIApp:
        app: ASGIApp = OpenTelemetryMiddleware(
            factory(ready),
            excluded_urls="/healthz$,/metrics$",
            default_span_details=_span_details,
            server_request_hook=_redact_request,
            exclude_spans=["receive", "send"],
            tracer_provider=provider,
        )
        return app

    return build


# A path segment kept as it is: a plain lower-case word (``pay``, ``signin``,
# ``.well-known``) or an API version (``v1``). Anything else (an id, a token, a
# name) becomes ``{id}``.
_PLAIN_SEGMENT = re.compile(r"[a-z.][a-z.-]{0,39}|v\d{1,2}")


def redacted_path(path: str) -> str:
    return "/".join(
        part if not part or _PLAIN_SEGMENT.fullmatch(part) else "{id}" for part in path.split("/")
    )


def _span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"{scope.get('method', 'HTTP')} {redacted_path(scope.get('path', ''))}", {}


def _redact_request(span: Any, scope: dict[str, Any]) -> None:
    host, port = scope.get("server") or ("", None)
    _redact(span, scope.get("scheme", "http"), str(host), port, scope.get("path", ""))


def _redact_outbound(span: Any, request: Any) -> None:
    url = request.url  # an httpx.URL, or httpcore's (scheme, host, port, target)
    if isinstance(url, tuple):
        scheme, host, port, target = url
        path = target.split(b"?", 1)[0].decode("ascii", "replace")
        _redact(span, scheme.decode(), host.decode(), port, path)
    else:
        _redact(span, url.scheme, url.host, url.port, url.path)


async def _redact_outbound_async(span: Any, request: Any) -> None:
    _redact_outbound(span, request)


def _redact(span: Any, scheme: str, host: str, port: int | None, path: str) -> None:
    """Replace whatever URL attributes the instrumentation set: the host stays
    (which agency's endpoint), the path is redacted, the query goes."""
    if not span.is_recording():
        return
    path = redacted_path(path)
    full = f"{scheme}://{host}{f':{port}' if port else ''}{path}"
    values = {"http.target": path, "url.path": path, "url.query": "", "http.url": full}
    values["url.full"] = full
    present = getattr(span, "attributes", None) or {}
    for key, value in values.items():
        if key in present:
            span.set_attribute(key, value)


def trace_database(
    engine: Engine, direct: DirectSql, provider: TracerProvider | None
) -> Callable[[], None]:
    """A client span per statement run on ``engine`` or by ``direct``, child of
    the call that ran it; returns what stops them.

    Our own listeners rather than OpenTelemetry's SQLAlchemy instrumentor: that
    one patches ``create_engine`` for the whole process and can be switched on
    once per process, while a test (or a development process) runs several
    services with an engine each."""
    if provider is None:
        return lambda: None
    from opentelemetry.trace import SpanKind, Status, StatusCode
    from sqlalchemy import event

    tracer = provider.get_tracer("gaap.sql")
    system = engine.dialect.name
    key = "_gaap_span"

    def before(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        if not get_current_span().get_span_context().is_valid:
            # Outside any traced call (a job's or the worker's polling): a
            # trace per poll would be noise, not news.
            return
        context = args[1]
        span = tracer.start_span(
            sql_operation(statement),
            kind=SpanKind.CLIENT,
            # The statement as written, with placeholders: never its values.
            attributes={"db.system": system, "db.statement": statement},
        )
        setattr(context, key, span)

    def after(_conn: Any, _cursor: Any, _statement: str, *args: Any) -> None:
        span = getattr(args[1], key, None)
        if span is not None:
            span.end()

    def failed(error: Any) -> None:
        span = getattr(error.execution_context, key, None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, type(error.original_exception).__name__))
            span.end()

    listeners = (
        ("before_cursor_execute", before),
        ("after_cursor_execute", after),
        ("handle_error", failed),
    )
    for name, listener in listeners:
        event.listen(engine, name, listener)
    direct.tracer = tracer

    def stop() -> None:
        direct.tracer = None
        for name, listener in listeners:
            event.remove(engine, name, listener)

    return stop


def sql_operation(statement: str) -> str:
    """A span name: the statement's first word (``SELECT``, ``INSERT``, ``WITH``)."""
    return statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"


def trace_outbound_http(provider: TracerProvider | None) -> Callable[[], None]:
    """Spans, and ``traceparent``, for every httpx request of this process;
    returns what stops them."""
    if provider is None:
        return lambda: None
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    # Process-wide: instrumented by the first service of the process to start,
    # uninstrumented when the last one stops.
    with _outbound_lock:
        if not _outbound_users:
            HTTPXClientInstrumentor().instrument(
                tracer_provider=provider,
                request_hook=_redact_outbound,
                async_request_hook=_redact_outbound_async,
            )
        _outbound_users.append(provider)

    def stop() -> None:
        with _outbound_lock:
            if provider in _outbound_users:
                _outbound_users.remove(provider)
                if not _outbound_users:
                    HTTPXClientInstrumentor().uninstrument()

    return stop


_outbound_lock = threading.Lock()
_outbound_users: list[TracerProvider] = []
