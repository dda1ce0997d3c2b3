"""Business metrics from the databases, request ids that follow a call to other
services, and OpenTelemetry tracing (off by default, in-memory exporter here)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc
from gaap.payments.v1 import payments_pb2, payments_pb2_grpc
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from services.identity.adapters import tables as identity_tables
from services.identity.domain.audit import EventType
from services.runtime import context, process, tls, tracing
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.config import PlatformSettings
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.http import build_app
from services.runtime.interceptors import standard_interceptors
from services.runtime.keys import KeyCache, http_fetcher
from tests.support.platform import Platform, bearer, running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("observability")
    with running_platform(f"sqlite:///{folder}/identity.db", folder) as running:
        yield running


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_business_metrics_are_counted_in_each_services_database(platform: Platform) -> None:
    agency = platform.secret_agency()
    access = bearer(platform.token(agency))
    payments = payments_pb2_grpc.PaymentsServiceStub(platform.channel("payments"))
    for n in range(3):
        payments.CreatePayment(
            payments_pb2.CreatePaymentRequest(
                amount=100,
                reference=f"M{n}",
                description="Fee",
                return_url="https://agency.example/done",
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=access,
        )
    notify = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    template = notify.CreateTemplate(
        notify_pb2.CreateTemplateRequest(
            channel=notify_pb2.CHANNEL_EMAIL,
            name="Metrics",
            contents=[notify_pb2.TemplateContent(language="en", subject="S", body="B")],
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=access,
    )
    for n in range(2):
        notify.SendEmail(
            notify_pb2.SendEmailRequest(
                template_id=template.id,
                email_address=f"m{n}@example.gov",
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=access,
        )
    with transaction(platform.admin.database.sessions) as session:
        for kind in (EventType.SIGN_IN_FAILED, EventType.SIGN_IN_FAILED, EventType.ACCOUNT_LOCKED):
            session.execute(
                identity_tables.audit_events.insert().values(
                    id=uuid.uuid4().hex, at=utcnow(), type=kind.value, details={}
                )
            )

    paid = scrape(platform.payments.metrics_url)
    assert paid[("gaap_payments_recent", (("provider", "sandbox"), ("state", "created")))] >= 3
    assert paid[("gaap_payments_business_metrics_up", ())] == 1
    sent = scrape(platform.notify.metrics_url)
    created = sum(
        value
        for (name, labels), value in sent.items()
        if name == "gaap_notify_notifications_recent" and ("channel", "email") in labels
    )
    assert created >= 2
    security = scrape(platform.identity.metrics_url)
    events = "gaap_identity_security_events_last_hour"
    assert security[(events, (("type", "sign_in.failed"),))] == 2
    assert security[(events, (("type", "account.locked"),))] == 1
    assert security[(events, (("type", "sign_in.succeeded"),))] == 0
    # Per-RPC metrics are there too: rate, errors by code, latency.
    assert any(name == "grpc_server_handled_total" for name, _ in paid)
    assert any(name == "grpc_server_handling_seconds_bucket" for name, _ in paid)


class Recorder:
    """An HTTP server serving a JWK Set and recording request headers."""

    def __init__(self, document: bytes) -> None:
        self.headers: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_the_request_id_follows_a_call_to_identitys_keys_and_to_other_services(
    platform: Platform,
) -> None:
    jwks = httpx.get(platform.identity.http_url + "/.well-known/jwks.json").content
    recorder = Recorder(jwks)
    try:
        fetch = http_fetcher(recorder.url)
        token = context.current_call.set(context.Call("req-jwks-42", "/x.Y/Z"))
        try:
            fetch()
        finally:
            context.current_call.reset(token)
        fetch()  # outside a call: no id to forward
    finally:
        recorder.server.shutdown()
    assert recorder.headers[0]["x-request-id"] == "req-jwks-42"
    assert "x-request-id" not in recorder.headers[1]

    # A gRPC call made while serving one carries that call's id: the other
    # service reports it back (with errors) and logs it.
    channel = tls.open_channel(platform.identity.grpc_target, platform.settings, secure=False)
    token = context.current_call.set(context.Call("req-grpc-43", "/x.Y/Z"))
    try:
        with pytest.raises(grpc.RpcError) as caught:
            caller_pb2_grpc.CallerServiceStub(channel).GetCallerIdentity(
                caller_pb2.GetCallerIdentityRequest(), timeout=5
            )
    finally:
        context.current_call.reset(token)
        channel.close()
    metadata: Any = caught.value.trailing_metadata() or ()
    trailers = {str(key): value for key, value in metadata}
    assert trailers["x-request-id"] == "req-grpc-43"


def test_tracing_is_off_by_default_and_records_a_span_per_call(tmp_path: Path) -> None:
    assert tracing.configure("payments", PlatformSettings(var_dir=tmp_path)) is None
    assert tracing.server_interceptors(None) == []
    exporter = InMemorySpanExporter()
    provider = tracing.configure("test", PlatformSettings(var_dir=tmp_path), exporter=exporter)
    assert provider is not None
    verifier = AccessTokenVerifier(
        issuer="https://x", audience="urn:gaap:test", keys=KeyCache(dict)
    )
    caller_policy = {"/gaap.common.v1.CallerService/GetCallerIdentity": "any"}
    running = process.start(
        process.ServiceSpec(
            name="test",
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            grpc_services=[],
            interceptors=[
                *tracing.server_interceptors(provider),
                *standard_interceptors("test", verifier, caller_policy),
            ],
            http_app=lambda ready: build_app([], ready=ready),
        )
    )
    try:
        with grpc.insecure_channel(running.grpc_target) as channel:
            from grpc_health.v1 import health_pb2, health_pb2_grpc

            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        running.stop(grace=1)
        provider.shutdown()
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["/grpc.health.v1.Health/Check"]
    assert spans[0].resource.attributes["service.name"] == "gaap-test"


def test_an_otel_endpoint_turns_tracing_on_in_every_service(tmp_path: Path) -> None:
    settings = PlatformSettings(var_dir=tmp_path, otel_endpoint="http://127.0.0.1:1")
    provider = tracing.configure("identity", settings)
    assert provider is not None
    (interceptor,) = tracing.server_interceptors(provider)
    assert isinstance(interceptor, grpc.ServerInterceptor)
    provider.shutdown()
