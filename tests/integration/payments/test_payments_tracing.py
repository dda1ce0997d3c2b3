"""Tracing a whole service: a payment's gRPC call with its SQL statements as
children, the citizen's page request and the agency webhook (which carries the
trace on in ``traceparent``); and nothing secret or personal in any span."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gaap.payments.v1 import payments_pb2 as pb
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import tracing
from tests.integration.payments.support import Agency, WebhookReceiver, payments_service
from tests.support.platform import Platform
from tests.support.tracing import in_memory, recorded_text

CREATE = "/gaap.payments.v1.PaymentsService/CreatePayment"


def traced_payments(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[TracerProvider, InMemorySpanExporter]:
    """The next service assembled traces into memory, as with GAAP_OTEL_ENDPOINT set."""
    provider, exporter = in_memory("gaap-payments")
    monkeypatch.setattr(tracing, "configure", lambda *args, **kwargs: provider)
    return provider, exporter


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_a_traced_payment_shows_its_statements_its_page_and_its_webhook(
    platform: Platform, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, exporter = traced_payments(monkeypatch)
    receiver = WebhookReceiver()
    try:
        with payments_service(platform, database_url) as traced:
            agency = Agency(traced)
            agency.stub.CreateWebhookSubscription(
                pb.CreateWebhookSubscriptionRequest(url=receiver.url, idempotency_key="trace-s"),
                metadata=agency.metadata,
            )
            payment = agency.create(reference="TRACE-REF-7", description="Trace fee", email="")
            page_url = traced.page_url(payment)
            token = page_url.rsplit("/", 1)[1]
            assert httpx.get(page_url, timeout=10).status_code == 200
            assert traced.app.outbox.deliver_due() == 1
    finally:
        receiver.close()
    spans: list[ReadableSpan] = list(exporter.get_finished_spans())

    [create] = [s for s in spans if s.name == CREATE]
    statements = [s for s in children(spans, create) if "db.statement" in (s.attributes or {})]
    assert statements, "the create's SQL is traced as children of its call"
    assert {s.name for s in statements} <= {"SELECT", "INSERT", "UPDATE", "WITH", "BEGIN"}

    [page] = [s for s in spans if s.name.startswith("GET /pay/")]
    assert page.name == "GET /pay/{id}"
    assert not any(s.name in ("GET /healthz", "GET /metrics") for s in spans)

    [delivery] = receiver.received
    traceparent = delivery.headers["traceparent"]
    [outbound] = [
        s
        for s in spans
        if s.kind.name == "CLIENT"
        and s.context.trace_id == int(traceparent.split("-")[1], 16)
        and "db.statement" not in (s.attributes or {})
    ]
    url_values: list[Any] = [
        value for key, value in (outbound.attributes or {}).items() if "url" in key
    ]
    assert url_values
    assert all(str(v).endswith("/hooks") or v == "" for v in url_values)
    full = [v for k, v in (outbound.attributes or {}).items() if k in ("url.full", "http.url")]
    assert full == [receiver.url]  # the agency's host stays: which endpoint was slow

    # Nothing that opens the page, and no value an agency or citizen sent.
    values = recorded_text(spans)
    for secret in (token, "TRACE-REF-7", "Trace fee", payment.id):
        assert not any(secret in value for value in values), secret


def test_a_service_without_an_endpoint_wraps_nothing() -> None:
    def factory(ready: Any) -> Any:
        return "the app"

    assert tracing.traced_http_app(factory, None) is factory
    assert tracing.trace_outbound_http(None)() is None


def test_paths_keep_their_words_and_lose_their_ids() -> None:
    assert tracing.redacted_path("/pay/pay_3f9a.kM2x_Q") == "/pay/{id}"
    assert tracing.redacted_path("/.well-known/openid-configuration") == (
        "/.well-known/openid-configuration"
    )
    assert tracing.redacted_path("/receipts/sms/primary") == "/receipts/sms/primary"
    assert tracing.redacted_path("/callbacks/Agency42/status") == "/callbacks/{id}/status"
    assert tracing.redacted_path("/") == "/"
    assert tracing.redacted_path("/v1/send/v1x") == "/v1/send/{id}"


class FakeSpan:
    def __init__(self, **attributes: Any) -> None:
        self.attributes = dict(attributes)

    def is_recording(self) -> bool:
        return True

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value


@pytest.mark.parametrize(
    "url",
    [
        httpx.URL("https://sms.example:8443/v1/send/acct_77?key=SECRET"),
        (b"https", b"sms.example", 8443, b"/v1/send/acct_77?key=SECRET"),  # httpcore's form
    ],
)
def test_an_outbound_url_keeps_its_host_and_loses_its_ids_and_query(url: Any) -> None:
    span = FakeSpan(**{"url.full": "https://sms.example:8443/v1/send/acct_77?key=SECRET"})
    span.attributes["url.query"] = "key=SECRET"

    class Request:
        pass

    request = Request()
    request.url = url  # type: ignore[attr-defined]
    tracing._redact_outbound(span, request)
    assert span.attributes == {
        "url.full": "https://sms.example:8443/v1/send/{id}",
        "url.query": "",
    }
