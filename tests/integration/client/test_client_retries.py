"""Retries against a real gRPC server that fails on purpose: UNAVAILABLE and
RESOURCE_EXHAUSTED are retried by gRPC's retry policy with backoff, waiting what
the server's pushback says (sent as the platform's servers send it, with
RetryInfo; the last tests use the platform's own error interceptor); other codes
are not; the idempotency key stays the same across attempts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from gaap.payments.v1 import payments_pb2 as ppb
from gaap.payments.v1 import payments_pb2_grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gaap_client.calls import NO_RETRIES, CallPolicy, RetryPolicy, open_channel
from gaap_client.errors import InvalidArgument, ResourceExhausted, Unavailable
from services.runtime import errors
from services.runtime.interceptors import ErrorInterceptor
from services.runtime.interceptors.errors import retry_pushback

# gRPC jitters each backoff by up to 20 %; the rest is the test machine's scheduling.
JITTER = 1.2
SLACK = 0.25


@dataclass
class Script:
    """What the server answers, call by call; what it saw and when."""

    failures: list[tuple[status_pb2.Status, float | None]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    deadlines: list[float | None] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    @property
    def waits(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


class Payments:
    """CreatePayment only, registered by hand (the generated servicer is abstract)."""

    def __init__(self, script: Script) -> None:
        self.script = script

    def create_payment(self, request: ppb.CreatePaymentRequest, context: Any) -> ppb.Payment:
        self.script.arrivals.append(time.monotonic())
        self.script.keys.append(request.idempotency_key)
        self.script.deadlines.append(context.time_remaining())
        if self.script.failures:
            status, retry_after = self.script.failures.pop(0)
            grpc_status = rpc_status.to_status(status)
            trailers = tuple(grpc_status.trailing_metadata)
            if retry_after is not None:  # as services.runtime.interceptors.errors does
                pushback = retry_pushback(retry_after, context.time_remaining())
                trailers += (("grpc-retry-pushback-ms", pushback),)
            context.set_trailing_metadata(trailers)
            context.abort(grpc_status.code, grpc_status.details)
        return ppb.Payment(id="pay_1", amount=request.amount)


def _status(code: int, retry_after: float | None = None) -> tuple[status_pb2.Status, float | None]:
    status = status_pb2.Status(code=code, message="try later")
    if retry_after is not None:
        detail = any_pb2.Any()
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(retry_after * 1e9))
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(detail)
    return status, retry_after


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.unary_unary_rpc_method_handler(
        Payments(script).create_payment,
        request_deserializer=ppb.CreatePaymentRequest.FromString,
        response_serializer=ppb.Payment.SerializeToString,
    )
    srv.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "gaap.payments.v1.PaymentsService", {"CreatePayment": handler}
            ),
        )
    )
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield f"127.0.0.1:{port}", script
    srv.stop(None)


def _stub(
    target: str, retry: RetryPolicy | None = None
) -> tuple[payments_pb2_grpc.PaymentsServiceStub, grpc.Channel]:
    channel = open_channel(target, CallPolicy(None, timeout=60, retry=retry or RetryPolicy()))
    return payments_pb2_grpc.PaymentsServiceStub(channel), channel


def test_unavailable_is_retried_with_growing_jittered_backoff(
    server: tuple[str, Script],
) -> None:
    target, script = server
    script.failures = [_status(code_pb2.UNAVAILABLE) for _ in range(3)]
    stub, channel = _stub(target)
    assert stub.CreatePayment(ppb.CreatePaymentRequest(amount=5)).id == "pay_1"
    channel.close()
    assert len(script.keys) == 4
    assert len(set(script.keys)) == 1  # one generated key for every attempt
    assert script.keys[0].startswith("gk_")
    assert len(script.waits) == 3
    for attempt, wait in enumerate(script.waits, start=1):
        assert 0 <= wait <= JITTER * 0.1 * 2 ** (attempt - 1) + SLACK
    assert all(d is not None and d > 50 for d in script.deadlines)  # the deadline is sent


def test_resource_exhausted_waits_what_the_server_pushes_back(
    server: tuple[str, Script],
) -> None:
    target, script = server
    script.failures = [_status(code_pb2.RESOURCE_EXHAUSTED, retry_after=0.8)]
    stub, channel = _stub(target)
    stub.CreatePayment(ppb.CreatePaymentRequest(amount=5, idempotency_key="k1"))
    channel.close()
    assert script.keys == ["k1", "k1"]
    [wait] = script.waits
    assert wait >= 0.8  # not the 0.1 s backoff


def test_giving_up_after_the_last_attempt_raises_the_typed_error(
    server: tuple[str, Script],
) -> None:
    target, script = server
    script.failures = [_status(code_pb2.RESOURCE_EXHAUSTED, retry_after=0.1) for _ in range(5)]
    stub, channel = _stub(target, RetryPolicy(max_attempts=3))
    with pytest.raises(ResourceExhausted) as limited:
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=5))
    channel.close()
    assert limited.value.retry_after == pytest.approx(0.1)
    assert len(script.keys) == 3
    assert len(script.waits) == 2


def test_a_retry_that_would_pass_the_deadline_is_not_made(server: tuple[str, Script]) -> None:
    target, script = server
    script.failures = [_status(code_pb2.UNAVAILABLE, retry_after=120)]
    stub, channel = _stub(target)
    started = time.monotonic()
    with pytest.raises(Unavailable) as unavailable:
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=5))
    channel.close()
    assert time.monotonic() - started < 5  # failed at once, not at the deadline
    assert unavailable.value.retry_after == 120  # the caller still learns when
    assert len(script.keys) == 1


def test_other_errors_are_not_retried(server: tuple[str, Script]) -> None:
    target, script = server
    script.failures = [_status(code_pb2.INVALID_ARGUMENT)]
    stub, channel = _stub(target)
    with pytest.raises(InvalidArgument):
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=5))
    channel.close()
    assert len(script.keys) == 1


def test_no_retries_makes_one_attempt(server: tuple[str, Script]) -> None:
    target, script = server
    script.failures = [_status(code_pb2.UNAVAILABLE)]
    stub, channel = _stub(target, NO_RETRIES)
    with pytest.raises(Unavailable):
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=5))
    channel.close()
    assert len(script.keys) == 1


class Limited:
    """CreatePayment behind the platform's ErrorInterceptor, rate-limited at first."""

    def __init__(self, retry_after: float, refusals: int = 1) -> None:
        self.retry_after = retry_after
        self.refusals = refusals
        self.script = Script()

    def create_payment(self, request: ppb.CreatePaymentRequest, context: Any) -> ppb.Payment:
        self.script.arrivals.append(time.monotonic())
        self.script.keys.append(request.idempotency_key)
        if self.refusals:
            self.refusals -= 1
            raise errors.ResourceExhausted("rate limit reached", self.retry_after)
        return ppb.Payment(id="pay_1", amount=request.amount)


def _limited_server(limited: Limited) -> tuple[grpc.Server, str]:
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2), interceptors=[ErrorInterceptor()])
    handler = grpc.unary_unary_rpc_method_handler(
        limited.create_payment,
        request_deserializer=ppb.CreatePaymentRequest.FromString,
        response_serializer=ppb.Payment.SerializeToString,
    )
    srv.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "gaap.payments.v1.PaymentsService", {"CreatePayment": handler}
            ),
        )
    )
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    return srv, f"127.0.0.1:{port}"


def test_the_platforms_rate_limit_is_waited_out_by_its_pushback() -> None:
    limited = Limited(retry_after=0.6)
    srv, target = _limited_server(limited)
    try:
        stub, channel = _stub(target)
        assert stub.CreatePayment(ppb.CreatePaymentRequest(amount=5)).id == "pay_1"
        channel.close()
    finally:
        srv.stop(None)
    [wait] = limited.script.waits
    assert wait >= 0.6
    assert len(set(limited.script.keys)) == 1


def test_a_rate_limit_longer_than_the_deadline_fails_at_once_with_its_delay() -> None:
    limited = Limited(retry_after=30)
    srv, target = _limited_server(limited)
    try:
        channel = open_channel(target, CallPolicy(None, timeout=5))
        started = time.monotonic()
        with pytest.raises(ResourceExhausted) as refused:
            payments_pb2_grpc.PaymentsServiceStub(channel).CreatePayment(
                ppb.CreatePaymentRequest(amount=5)
            )
        channel.close()
    finally:
        srv.stop(None)
    assert time.monotonic() - started < 2
    assert refused.value.retry_after == 30
    assert len(limited.script.keys) == 1
