"""``identity-introspect``: ``IntrospectToken`` over gRPC against identity as
``services.identity.bootstrap.build`` assembles it (production interceptors,
SQLite in a temporary var dir), 64 calls in flight, compared with the empty-RPC
floor of the same run (target: at least 0.7 of its calls/s).

The caller is an agency with ``identity:tokens``; every call introspects the
same token of that agency, so the server's token cache answers the signature
check and each call costs the interceptors, the tenant check and one database
read (is the agency still enabled?).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import grpc
from grpc import aio

from bench.grpc_floor import DEFAULT_WORKERS, floor_measurement
from bench.grpc_load import CONCURRENCY, configure_logging
from bench.harness import (
    LoadResult,
    Session,
    client_phases,
    describe,
    measure,
    phase_timeout,
    server_process,
    with_warmup_failures,
)
from bench.report import Figure, Target, measurement_figures

ISSUER = "http://127.0.0.1:8081"
METHOD = "/gaap.identity.v1.IdentityService/IntrospectToken"
RATIO_TARGET = Target("ratio", ">=", 0.7)
TOKEN_TTL = 3600  # outlives any run


@dataclass(frozen=True)
class IntrospectServer:
    var_dir: str
    access_log: bool = False


@dataclass(frozen=True)
class IntrospectClient:
    target: str
    caller_token: str
    request: bytes  # a serialized IntrospectTokenRequest, so the client does no protobuf work
    seconds: float
    warmup: float
    concurrency: int = CONCURRENCY


def serve_identity_grpc(conn: Connection, stop: Event, config: IntrospectServer) -> None:
    """Register an agency with identity:tokens, mint its token, serve identity."""
    try:
        configure_logging(config.access_log)
        from gaap.identity.v1 import identity_pb2

        from services.identity.bootstrap import build, open_identity
        from services.identity.service_layer.tokens import AccessTokenIssuer
        from services.identity.settings import IdentitySettings
        from services.runtime.config import PlatformSettings
        from services.runtime.process import settle_heap, start

        platform = PlatformSettings.model_validate(
            {
                "issuer": ISSUER,
                "var_dir": Path(config.var_dir),
                "log_level": "INFO" if config.access_log else "WARNING",
            }
        )
        settings = IdentitySettings.model_validate(
            {
                "grpc_address": "127.0.0.1:0",
                "http_address": "127.0.0.1:0",
                "database_url": f"sqlite:///{Path(config.var_dir) / 'identity.db'}",
            }
        )
        identity = open_identity(platform, settings)
        agency = identity.registry.create(name="Bench agency", scopes=["identity:tokens"]).agency
        issuer = AccessTokenIssuer(identity.keys, issuer=ISSUER, ttl_seconds=TOKEN_TTL)
        token = issuer.issue(agency, ("identity:tokens",)).access_token
        identity.database.close()
        running = start(build(platform, settings))
        settle_heap()  # as services.runtime.process.run does
    except Exception as exc:
        conn.send(describe(exc))
        raise
    request = identity_pb2.IntrospectTokenRequest(token=token).SerializeToString()
    conn.send({"port": running.grpc_port, "token": token, "request": request})
    stop.wait()
    running.stop(1.0)


def load(conn: Connection, config: IntrospectClient) -> None:
    try:
        conn.send(asyncio.run(_load(conn, config)))
    except Exception as exc:
        conn.send(describe(exc))
        raise


async def _load(conn: Connection, config: IntrospectClient) -> LoadResult:
    metadata = (("authorization", f"Bearer {config.caller_token}"),)
    async with aio.insecure_channel(config.target) as channel:
        await channel.channel_ready()
        stub = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        warm = await _phase(stub, config, metadata, config.warmup)
        client_phases(conn)
        cpu = time.process_time()
        result = await _phase(stub, config, metadata, config.seconds, cpu_start=cpu)
    return with_warmup_failures(warm, result)


async def _phase(
    stub: aio.UnaryUnaryMultiCallable[bytes, bytes],
    config: IntrospectClient,
    metadata: tuple[tuple[str, str], ...],
    seconds: float,
    *,
    cpu_start: float | None = None,
) -> LoadResult:
    """Keep ``concurrency`` calls in flight for ``seconds``; a response that is
    not an active token counts as a failure."""
    latencies: list[float] = []
    failures: list[str] = []
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        perf = time.perf_counter
        while perf() < deadline:
            began = perf()
            try:
                response = await stub(config.request, metadata=metadata, timeout=30)
            except grpc.RpcError as exc:
                failures.append(f"{exc.code().name}: {exc.details()}")
                continue
            # TokenInfo.active is field 1, a varint: an active token starts 08 01.
            if not response.startswith(b"\x08\x01"):
                failures.append("token not active")
                continue
            latencies.append(perf() - began)

    await asyncio.gather(*(worker() for _ in range(config.concurrency)))
    elapsed = time.perf_counter() - start
    return LoadResult.summarise(
        latencies,
        failures=len(failures),
        elapsed=elapsed,
        client_cpu_s=time.process_time() - cpu_start if cpu_start is not None else 0.0,
        failure_sample=failures[0] if failures else "",
    )


def identity_introspect(session: Session) -> list[Figure]:
    """``IntrospectToken`` calls/s at 64 in flight against the floor of this run."""
    base = floor_measurement(session)
    server_cpus, client_cpus = session.placement or (None, None)
    with (
        tempfile.TemporaryDirectory(prefix="gaap-bench-") as var_dir,
        server_process(
            serve_identity_grpc, IntrospectServer(var_dir, session.access_log), cpus=server_cpus
        ) as running,
    ):
        client = IntrospectClient(
            target=f"127.0.0.1:{running.info['port']}",
            caller_token=running.info["token"],
            request=running.info["request"],
            seconds=session.seconds,
            warmup=session.warmup,
        )
        m = measure(
            "identity IntrospectToken (sqlite, production bootstrap)",
            running,
            load,
            client,
            timeout=phase_timeout(session.seconds, session.warmup),
            cpus=client_cpus,
        )
    session.record("identity-introspect", m)
    return measurement_figures(
        "identity-introspect",
        "introspect",
        m,
        baseline=base,
        baseline_source=f"floor, threads/{DEFAULT_WORKERS}",
        rate_target=RATIO_TARGET,
    )
