"""Retries against a real gRPC server that fails on purpose: UNAVAILABLE and
RESOURCE_EXHAUSTED are retried with backoff (RetryInfo honoured); other codes
are not; the idempotency key stays the same across attempts."""

from __future__ import annotations

import random
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

from gaap_client.calls import CallPolicy, RetryPolicy
from gaap_client.errors import InvalidArgument, ResourceExhausted, Unavailable


@dataclass
class Script:
    """What the server answers, call by call; what it saw."""

    failures: list[status_pb2.Status] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    deadlines: list[float | None] = field(default_factory=list)


class Payments:
    """CreatePayment only, registered by hand (the generated servicer is abstract)."""

    def __init__(self, script: Script) -> None:
        self.script = script

    def create_payment(self, request: ppb.CreatePaymentRequest, context: Any) -> ppb.Payment:
        self.script.keys.append(request.idempotency_key)
        self.script.deadlines.append(context.time_remaining())
        if self.script.failures:
            context.abort_with_status(rpc_status.to_status(self.script.failures.pop(0)))
        return ppb.Payment(id="pay_1", amount=request.amount)


def _status(code: int, retry_after: float | None = None) -> status_pb2.Status:
    status = status_pb2.Status(code=code, message="try later")
    if retry_after is not None:
        detail = any_pb2.Any()
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(retry_after * 1e9))
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(detail)
    return status


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
    target: str, waits: list[float], retry: RetryPolicy | None = None
) -> tuple[payments_pb2_grpc.PaymentsServiceStub, grpc.Channel]:
    policy = CallPolicy(
        None, timeout=60, retry=retry or RetryPolicy(), sleep=waits.append, rand=random.Random(7)
    )
    channel = grpc.intercept_channel(grpc.insecure_channel(target), policy)
    return payments_pb2_grpc.PaymentsServiceStub(channel), channel


def test_unavailable_is_retried_with_growing_jittered_backoff(
    server: tuple[str, Script],
) -> None:
    target, script = server
    script.failures = [_status(code_pb2.UNAVAILABLE) for _ in range(3)]
    waits: list[float] = []
    stub, channel = _stub(target, waits)
    assert stub.CreatePayment(ppb.CreatePaymentRequest(amount=5)).id == "pay_1"
    channel.close()
    assert len(script.keys) == 4
    assert len(set(script.keys)) == 1  # one generated key for every attempt
    assert script.keys[0].startswith("gk_")
    assert len(waits) == 3
    for attempt, wait in enumerate(waits, start=1):
        assert 0 <= wait <= 0.1 * 2 ** (attempt - 1)
    assert all(d is not None and d > 50 for d in script.deadlines)  # the deadline is sent


def test_resource_exhausted_waits_at_least_what_retry_info_says(
    server: tuple[str, Script],
) -> None:
    target, script = server
    script.failures = [_status(code_pb2.RESOURCE_EXHAUSTED, retry_after=2.5)]
    waits: list[float] = []
    stub, channel = _stub(target, waits)
    stub.CreatePayment(ppb.CreatePaymentRequest(amount=5, idempotency_key="k1"))
    channel.close()
    assert script.keys == ["k1", "k1"]
    [wait] = waits
    assert wait >= 2.5


def test_giving_up_after_the_last_attempt_raises_the_typed_error(
    server: tuple[str, Script],
) -> None:
    target, script = server
    script.failures = [_status(code_pb2.RESOURCE_EXHAUSTED, retry_after=0.1) for _ in range(5)]
    waits: list[float] = []
    stub, channel = _stub(target, waits, RetryPolicy(max_attempts=3))
    with pytest.raises(ResourceExhausted) as limited:
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=5))
    channel.close()
    assert limited.value.retry_after == pytest.approx(0.1)
    assert len(script.keys) == 3
    assert len(waits) == 2


def test_a_retry_that_would_pass_the_deadline_is_not_made(server: tuple[str, Script]) -> None:
    target, script = server
    script.failures = [_status(code_pb2.UNAVAILABLE, retry_after=120)]
    waits: list[float] = []
    stub, channel = _stub(target, waits)
    with pytest.raises(Unavailable):
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=5))
    channel.close()
    assert waits == []
    assert len(script.keys) == 1


def test_other_errors_are_not_retried(server: tuple[str, Script]) -> None:
    target, script = server
    script.failures = [_status(code_pb2.INVALID_ARGUMENT)]
    waits: list[float] = []
    stub, channel = _stub(target, waits)
    with pytest.raises(InvalidArgument):
        stub.CreatePayment(ppb.CreatePaymentRequest(amount=5))
    channel.close()
    assert len(script.keys) == 1
    assert waits == []
