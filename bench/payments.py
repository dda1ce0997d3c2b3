"""``payments-create`` and ``payments-get``: PaymentsService on PostgreSQL.

The server is payments as production builds it (``open_payments`` + ``serve``:
the interceptor chain, the servicer, the service layer, one transaction per
create) on a throwaway PostgreSQL database, with tokens verified against a
static JWKS and rate limits raised out of the way. The client keeps 64 calls in
flight: ``CreatePayment`` with a fresh idempotency key per call, or
``GetPayment`` of one existing payment. Ratios are to the empty-RPC ``floor``
of the same run.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any, Literal

import grpc
from grpc import aio

from bench.grpc_floor import DEFAULT_WORKERS, floor_measurement
from bench.grpc_load import CONCURRENCY, configure_logging
from bench.harness import (
    LoadResult,
    Measurement,
    Session,
    client_phases,
    describe,
    measure,
    phase_timeout,
    server_process,
    with_warmup_failures,
)
from bench.keys import KeyPair, Signer, new_key_pair
from bench.report import Figure, Target, measurement_figures
from bench.token_endpoint import postgres_reachable, throwaway_postgres

ISSUER = "http://127.0.0.1:8081"
SCOPE = "payments:create payments:read"
BASELINE = f"floor, threads/{DEFAULT_WORKERS}"
CREATE_TARGET = Target("ratio", ">=", 0.5)
CREATE_P99_TARGET = Target("value", "<=", 50.0)
GET_TARGET = Target("ratio", ">=", 0.8)
Operation = Literal["create", "get"]


@dataclass(frozen=True)
class PaymentsServerConfig:
    database_url: str
    var_dir: str
    jwk: dict[str, Any]
    access_log: bool


@dataclass(frozen=True)
class PaymentsClientConfig:
    operation: Operation
    key: KeyPair
    seconds: float
    warmup: float
    concurrency: int = CONCURRENCY


def serve_payments(conn: Connection, stop: Event, config: PaymentsServerConfig) -> None:
    """Server process: payments on ``database_url`` until ``stop``."""
    try:
        from pathlib import Path

        from services.payments.bootstrap import open_payments, serve
        from services.payments.settings import PaymentsSettings
        from services.runtime import process
        from services.runtime.config import PlatformSettings

        configure_logging(config.access_log)
        # assemble() sets the root logger to the platform's level: keep it where
        # configure_logging put it, as for every other benchmark's server.
        platform = PlatformSettings(
            issuer=ISSUER,
            var_dir=Path(config.var_dir),
            log_level="INFO" if config.access_log else "WARNING",
        )
        settings = PaymentsSettings(
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            database_url=config.database_url,
            create_rate_per_second=1e9,
            read_rate_per_second=1e9,
        )
        jwks = {"keys": [config.jwk]}
        spec = serve(platform, settings, open_payments(platform, settings), jwks=lambda: jwks)
        spec.jobs = ()  # measure the calls, not the sweeper
        running = process.start(spec)
        process.settle_heap()  # as process.run does
        conn.send({"port": running.grpc_port})
        stop.wait()
        running.stop(grace=1)
    except Exception as exc:
        conn.send(describe(exc))
        raise


def load(conn: Connection, target: str, config: PaymentsClientConfig) -> None:
    try:
        conn.send(asyncio.run(_load(conn, target, config)))
    except Exception as exc:
        conn.send(describe(exc))
        raise


async def _load(conn: Connection, target: str, config: PaymentsClientConfig) -> LoadResult:
    from gaap.payments.v1 import payments_pb2 as pb
    from gaap.payments.v1 import payments_pb2_grpc as pb_grpc

    token = Signer(config.key).access_token(issuer=ISSUER, client_id="ag_bench", scope=SCOPE)
    metadata = (("authorization", f"Bearer {token}"),)
    keys = itertools.count()

    def create_request() -> Any:
        return pb.CreatePaymentRequest(
            amount=1050,
            reference="BENCH-1",
            description="Benchmark fee",
            return_url="https://agency.example/done",
            idempotency_key=f"bench-{time.time_ns()}-{next(keys)}",
        )

    async with aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = pb_grpc.PaymentsServiceStub(channel)
        existing = await stub.CreatePayment(create_request(), metadata=metadata)
        get = pb.GetPaymentRequest(payment_id=existing.id)

        async def call() -> None:
            if config.operation == "create":
                await stub.CreatePayment(create_request(), metadata=metadata, timeout=30)
            else:
                await stub.GetPayment(get, metadata=metadata, timeout=30)

        warm = await _phase(call, config.concurrency, config.warmup)
        client_phases(conn)
        cpu = time.process_time()
        result = await _phase(call, config.concurrency, config.seconds, cpu_start=cpu)
    return with_warmup_failures(warm, result)


async def _phase(
    call: Any, concurrency: int, seconds: float, *, cpu_start: float | None = None
) -> LoadResult:
    latencies: list[float] = []
    failures: list[str] = []
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        perf = time.perf_counter
        while perf() < deadline:
            began = perf()
            try:
                await call()
            except grpc.RpcError as exc:
                failures.append(f"{exc.code().name}: {exc.details()}")
                continue
            latencies.append(perf() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start if cpu_start is not None else 0.0
    return LoadResult.summarise(
        latencies,
        failures=len(failures),
        elapsed=elapsed,
        client_cpu_s=cpu,
        failure_sample=failures[0] if failures else "",
    )


def _run(session: Session, operation: Operation) -> Measurement | None:
    if not postgres_reachable():
        session.notes.append(f"payments-{operation}: skipped, nothing listens on 127.0.0.1:5432")
        return None
    pair = new_key_pair()
    server_cpus, client_cpus = session.placement or (None, None)
    with tempfile.TemporaryDirectory(prefix="gaap-bench-") as var_dir, throwaway_postgres() as url:
        config = PaymentsServerConfig(url, var_dir, pair.public_jwk, session.access_log)
        with server_process(serve_payments, config, cpus=server_cpus) as running:
            client = PaymentsClientConfig(operation, pair, session.seconds, session.warmup)
            m = measure(
                f"payments {operation} (PostgreSQL)",
                running,
                load,
                f"127.0.0.1:{running.info['port']}",
                client,
                timeout=phase_timeout(session.seconds, session.warmup),
                cpus=client_cpus,
            )
    return session.record(f"payments-{operation}", m)


def payments_create(session: Session) -> list[Figure]:
    """CreatePayment, 64 in flight: ratio to the floor >= 0.5 and p99 < 50 ms."""
    base = floor_measurement(session)
    m = _run(session, "create")
    if m is None:
        return []
    figures = measurement_figures(
        "payments-create",
        "CreatePayment",
        m,
        baseline=base,
        baseline_source=BASELINE,
        rate_target=CREATE_TARGET,
    )
    p99 = figures[2]
    figures[2] = Figure(
        p99.benchmark,
        p99.name,
        p99.value,
        p99.unit,
        p99.baseline,
        p99.baseline_source,
        CREATE_P99_TARGET,
    )
    return figures


def payments_get(session: Session) -> list[Figure]:
    """GetPayment, 64 in flight: ratio to the floor >= 0.8."""
    base = floor_measurement(session)
    m = _run(session, "get")
    if m is None:
        return []
    return measurement_figures(
        "payments-get",
        "GetPayment",
        m,
        baseline=base,
        baseline_source=BASELINE,
        rate_target=GET_TARGET,
    )
