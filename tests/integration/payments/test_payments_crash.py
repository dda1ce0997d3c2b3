"""A real payments process killed with SIGKILL in the middle of a stream of
creates, captures and refunds; after a restart, replaying every request with its
key has exactly one effect per key and the ledger balances. Also: refunds racing
on two processes over one database never exceed the captured amount."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc as pb_grpc

from services.payments.adapters import tables as t
from tests.integration.payments.support import (
    PUBLIC_URL,
    assert_ledger_consistent,
    pay_on_page,
)
from tests.support.databases import for_service
from tests.support.platform import ISSUER, Platform, bearer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    grpc_target: str

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def payments_process(platform: Platform, database_url: str, var_dir: Path) -> Iterator[Child]:
    grpc_port = free_port()
    env = {
        **os.environ,
        "GAAP_ISSUER": ISSUER,
        "GAAP_JWKS_URL": platform.identity.http_url + "/.well-known/jwks.json",
        "GAAP_VAR_DIR": str(var_dir),
        "GAAP_LOG_LEVEL": "WARNING",
        "PAYMENTS_DATABASE_URL": for_service(database_url, "payments"),
        "PAYMENTS_GRPC_ADDRESS": f"127.0.0.1:{grpc_port}",
        "PAYMENTS_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
        "PAYMENTS_METRICS_ADDRESS": "127.0.0.1:0",
        "PAYMENTS_PUBLIC_URL": PUBLIC_URL,
        "PAYMENTS_CREATE_RATE_PER_SECOND": "10000",
        "PAYMENTS_READ_RATE_PER_SECOND": "10000",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "services.payments.main"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = f"127.0.0.1:{grpc_port}"
    try:
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        yield Child(child, target)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait(10)


Stub = pb_grpc.PaymentsServiceStub
Metadata = tuple[tuple[str, str], ...]
Request = tuple[str, str, Callable[[Stub], Any]]


def create_call(request: pb.CreatePaymentRequest, meta: Metadata) -> Callable[[Stub], Any]:
    return lambda stub: stub.CreatePayment(request, metadata=meta)


def capture_call(request: pb.CapturePaymentRequest, meta: Metadata) -> Callable[[Stub], Any]:
    return lambda stub: stub.CapturePayment(request, metadata=meta)


def refund_call(request: pb.CreateRefundRequest, meta: Metadata) -> Callable[[Stub], Any]:
    return lambda stub: stub.CreateRefund(request, metadata=meta)


def stream(meta: Metadata, held: list[pb.Payment]) -> list[Request]:
    """Creates, then for each held payment a capture and two partial refunds."""
    requests: list[Request] = []
    for i in range(12):
        key = f"create-{i}"
        create = pb.CreatePaymentRequest(
            amount=1000 + i,
            reference=f"crash-{i}",
            description="Fee",
            return_url="https://agency.example/done",
            idempotency_key=key,
        )
        requests.append(("create", key, create_call(create, meta)))
    for payment in held:
        capture = pb.CapturePaymentRequest(
            payment_id=payment.id, idempotency_key=f"capture-{payment.id}"
        )
        requests.append(("capture", capture.idempotency_key, capture_call(capture, meta)))
        for n in range(2):
            refund = pb.CreateRefundRequest(
                payment_id=payment.id, amount=100, idempotency_key=f"refund-{payment.id}-{n}"
            )
            requests.append(("refund", refund.idempotency_key, refund_call(refund, meta)))
    return requests


def held_payments(
    platform: Platform, meta: tuple[tuple[str, str], ...], count: int
) -> list[pb.Payment]:
    stub = pb_grpc.PaymentsServiceStub(platform.channel("payments"))
    made = []
    for i in range(count):
        payment = stub.CreatePayment(
            pb.CreatePaymentRequest(
                amount=1000,
                reference=f"held-{i}",
                description="Fee",
                return_url="https://agency.example/done",
                delayed_capture=True,
                idempotency_key=f"held-{i}",
            ),
            metadata=meta,
        )
        pay_on_page(
            payment.next_url.replace(PUBLIC_URL, platform.payments.http_url), "4242424242424242"
        )
        made.append(payment)
    return made


def test_kill_mid_stream_then_replay_has_one_effect_per_key(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    agency = platform.secret_agency()
    meta = bearer(platform.token(agency))
    held = held_payments(platform, meta, 4)
    requests = stream(meta, held)
    sent = threading.Event()
    done: list[str] = []

    with payments_process(platform, database_url, tmp_path) as child:
        channel = grpc.insecure_channel(child.grpc_target)
        stub = pb_grpc.PaymentsServiceStub(channel)

        def run() -> None:
            for _, key, call in requests:
                try:
                    call(stub)
                    done.append(key)
                except grpc.RpcError:
                    pass
                if len(done) == len(requests) // 2:
                    sent.set()
            sent.set()

        worker = threading.Thread(target=run)
        worker.start()
        sent.wait(60)
        child.kill()  # mid-stream
        worker.join(60)
        channel.close()
    assert 0 < len(done) < len(requests)  # the kill did land in the middle

    with (
        payments_process(platform, database_url, tmp_path) as child,
        grpc.insecure_channel(child.grpc_target) as channel,
    ):
        stub = pb_grpc.PaymentsServiceStub(channel)
        results = {key: call(stub) for _, key, call in requests}

    database = for_service(database_url, "payments")
    engine = sa.create_engine(database)
    try:
        with engine.connect() as conn:
            for i in range(12):
                count = conn.scalar(
                    sa.select(sa.func.count()).where(
                        t.payments.c.reference == f"crash-{i}",
                        t.payments.c.tenant == agency.client_id,
                    )
                )
                assert count == 1
                assert results[f"create-{i}"].reference == f"crash-{i}"
            for payment in held:
                captures = conn.scalar(
                    sa.select(sa.func.count()).where(
                        t.ledger_lines.c.payment_id == payment.id,
                        t.ledger_lines.c.kind == "capture",
                    )
                )
                assert captures == 2  # one entry of two lines
                refunds = conn.execute(
                    sa.select(t.refunds.c.id, t.refunds.c.state).where(
                        t.refunds.c.payment_id == payment.id
                    )
                ).all()
                assert len(refunds) == 2
                assert {r.state for r in refunds} == {"success"}
                replayed = {results[f"refund-{payment.id}-{n}"].id for n in range(2)}
                assert replayed == {r.id for r in refunds}
    finally:
        engine.dispose()
    from sqlalchemy.orm import sessionmaker

    engine = sa.create_engine(database)
    try:
        assert_ledger_consistent(sessionmaker(engine))
    finally:
        engine.dispose()


def test_refunds_racing_on_two_processes_never_exceed_the_capture(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    agency = platform.secret_agency()
    meta = bearer(platform.token(agency))
    payment = held_payments(platform, meta, 1)[0]
    in_process = pb_grpc.PaymentsServiceStub(platform.channel("payments"))
    in_process.CapturePayment(
        pb.CapturePaymentRequest(payment_id=payment.id, idempotency_key="cap"), metadata=meta
    )
    with (
        payments_process(platform, database_url, tmp_path) as child,
        grpc.insecure_channel(child.grpc_target) as channel,
    ):
        other = pb_grpc.PaymentsServiceStub(channel)
        stubs = [in_process, other]
        codes: list[grpc.StatusCode] = []

        def refund(n: int) -> bool:
            try:
                stubs[n % 2].CreateRefund(
                    pb.CreateRefundRequest(
                        payment_id=payment.id, amount=300, idempotency_key=f"race-{n}"
                    ),
                    metadata=meta,
                )
                return True
            except grpc.RpcError as exc:
                codes.append(exc.code())
                return False

        with ThreadPoolExecutor(10) as pool:
            outcomes = list(pool.map(refund, range(10)))
    assert outcomes.count(True) == 3  # 3 x 300 <= 1000 < 4 x 300
    assert set(codes) == {grpc.StatusCode.FAILED_PRECONDITION}
    final = in_process.GetPayment(pb.GetPaymentRequest(payment_id=payment.id), metadata=meta)
    assert final.refundable_amount == 100
