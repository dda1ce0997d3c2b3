"""OpenTelemetry tracing, off unless ``GAAP_OTEL_ENDPOINT`` names an OTLP gRPC collector.

When on, every gRPC call a service serves becomes a span (the instrumentation's
server interceptor, outermost, so the span covers auth and errors too), and the
W3C ``traceparent`` of an incoming call continues the caller's trace. Spans go in
batches to the collector; nothing is exported when tracing is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.runtime.config import PlatformSettings

if TYPE_CHECKING:
    import grpc
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter


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
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = platform.otel_endpoint
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
            )
        )
    return provider


def server_interceptors(provider: TracerProvider | None) -> list[grpc.ServerInterceptor[Any, Any]]:
    """The server interceptor that opens a span per call (none when tracing is off)."""
    if provider is None:
        return []
    from opentelemetry.instrumentation.grpc import server_interceptor

    interceptor: grpc.ServerInterceptor[Any, Any] = server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=provider
    )
    return [interceptor]
