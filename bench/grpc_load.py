"""An empty unary RPC, the servers that serve it and the grpc.aio client that loads them.

The method takes and returns raw bytes (identity serializers, no protobuf), so
what is measured is the server bootstrap, the transport and, for ``auth``, the
interceptor chain: never message encoding or service code.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Any, Literal

import grpc
from grpc import aio

from bench.harness import LoadResult, client_phases, describe, with_warmup_failures
from bench.keys import DpopSigner, KeyPair, Signer

if TYPE_CHECKING:
    from services.runtime.dpop import DpopBinding

SERVICE = "gaap.bench.v1.Bench"
METHOD = f"/{SERVICE}/Empty"
SCOPE = "payments:read"
CONCURRENCY = 64

ServerKind = Literal["threads", "aio"]


@dataclass(frozen=True)
class ServerConfig:
    """How to build the server in its own process (everything here pickles)."""

    kind: ServerKind = "threads"
    max_workers: int = 8
    auth_issuer: str | None = None  # set: the production interceptor chain
    auth_jwk: dict[str, Any] | None = None
    access_log: bool = False
    dpop_url: str | None = None  # set: DPoP-bound tokens checked, proofs naming this URL

    def describe(self) -> str:
        server = (
            "grpc.aio" if self.kind == "aio" else f"thread pool, max_workers={self.max_workers}"
        )
        chain = "production interceptors" if self.auth_issuer else "no interceptors"
        if self.dpop_url:
            chain += " with DPoP"
        return f"{server}, {chain}"


@dataclass(frozen=True)
class ClientConfig:
    """The load: ``CONCURRENCY`` calls in flight, with or without bearer tokens."""

    seconds: float
    warmup: float
    concurrency: int = CONCURRENCY
    key: KeyPair | None = None  # set: send 'authorization: Bearer <token>'
    issuer: str = ""
    distinct_tokens: int = 0  # >0: a fresh token per measured call, this many pre-generated
    cache_mark: int = 0  # >0: report the rate before/after this many fresh tokens
    # set: one token bound to this key, sent as 'DPoP <token>' with a fresh proof
    # per call (warm-up included), ``dpop_proofs`` of them pre-generated
    dpop_key: KeyPair | None = None
    dpop_url: str = ""
    dpop_proofs: int = 0


def _identity(data: bytes) -> bytes:
    return data


def configure_logging(access_log: bool) -> None:
    """The same logging in every server process.

    Default: the root logger at WARNING, so the access log line (INFO) is not
    written in any run. With ``BENCH_ACCESS_LOG=1``: the production JSON logs at
    INFO, written to /dev/null, so their formatting cost is included.
    """
    if access_log:
        from services.runtime import logs

        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        logs.configure("bench", "INFO")
    else:
        logging.getLogger().setLevel(logging.WARNING)


def _generic_handler(handler: Any) -> grpc.GenericRpcHandler[bytes, bytes]:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Empty": grpc.unary_unary_rpc_method_handler(
                handler, request_deserializer=_identity, response_serializer=_identity
            )
        },
    )


def _interceptors(config: ServerConfig) -> list[grpc.ServerInterceptor[Any, Any]]:
    if config.auth_issuer is None or config.auth_jwk is None:
        return []
    from services.runtime.access_tokens import AccessTokenVerifier, audience_for
    from services.runtime.interceptors import standard_interceptors
    from services.runtime.keys import KeyCache

    jwks = {"keys": [config.auth_jwk]}
    verifier = AccessTokenVerifier(
        issuer=config.auth_issuer,
        audience=audience_for("payments"),
        keys=KeyCache(lambda: jwks),
    )
    return standard_interceptors("payments", verifier, {METHOD: SCOPE}, _dpop(config))


def _dpop(config: ServerConfig) -> DpopBinding | None:
    """The binding payments and notify build (``services.runtime.bootstrap``)
    without REDIS_URL: the replay memory in process."""
    if not config.dpop_url:
        return None
    from services.runtime.dpop import DpopBinding, DpopVerifier, connect_replays

    replays = connect_replays("", "gaap:payments:dpop")
    return DpopBinding(DpopVerifier(replays=replays), config.dpop_url)


def serve(conn: Connection, stop: Event, config: ServerConfig) -> None:
    """Server process entry point: serve ``METHOD`` until ``stop`` is set."""
    try:
        configure_logging(config.access_log)
        if config.kind == "aio":
            asyncio.run(_serve_aio(conn, stop, config))
        else:
            _serve_threads(conn, stop, config)
    except Exception as exc:
        conn.send(describe(exc))
        raise


def _serve_threads(conn: Connection, stop: Event, config: ServerConfig) -> None:
    from services.runtime.grpc_server import GrpcService, create_server

    def empty(request: bytes, context: grpc.ServicerContext) -> bytes:
        return b""

    service = GrpcService(
        SERVICE, lambda server: server.add_generic_rpc_handlers((_generic_handler(empty),))
    )
    server, port = create_server(
        "127.0.0.1:0",
        services=[service],
        interceptors=_interceptors(config),
        max_workers=config.max_workers,
    )
    server.start()
    conn.send({"port": port})
    stop.wait()
    server.stop(0).wait(5)


async def _serve_aio(conn: Connection, stop: Event, config: ServerConfig) -> None:
    """The same method on a grpc.aio server with the options, health and
    reflection that ``services.runtime.grpc_server.create_server`` sets up."""
    from grpc_health.v1 import _async as health_aio  # what health.aio re-exports
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    from services.runtime.grpc_server import MAX_MESSAGE_BYTES

    if config.auth_issuer is not None:
        raise ValueError("the production interceptors are synchronous: no aio variant")

    async def empty(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
        return b""

    server = aio.server(
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_generic_rpc_handlers((_generic_handler(empty),))
    await health_servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        [SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    conn.send({"port": port})
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    await server.stop(0)


# --- client ------------------------------------------------------------------


def load(conn: Connection, target: str, config: ClientConfig) -> None:
    """Client process entry point: warm up, wait for go, measure, send a LoadResult."""
    try:
        conn.send(asyncio.run(_load(conn, target, config)))
    except Exception as exc:
        conn.send(describe(exc))
        raise


Metadata = tuple[tuple[str, str], ...]


def _bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


def _dpop_calls(config: ClientConfig, signer: Signer) -> list[Metadata]:
    """``config.dpop_proofs`` calls' metadata: the bound token and a proof each."""
    assert config.dpop_key is not None
    dpop = DpopSigner(config.dpop_key)
    token = signer.access_token(
        issuer=config.issuer, client_id="ag_bench", scope=SCOPE, jkt=dpop.jkt
    )
    uri = config.dpop_url.rstrip("/") + METHOD
    header = ("authorization", f"DPoP {token}")
    return [(header, ("dpop", dpop.proof(uri, token))) for _ in range(config.dpop_proofs)]


class _Credentials:
    """Metadata for each call: none, one token for every call, or a fresh token each.

    The warm-up always repeats one token (so it does not fill the verifier's
    cache); with ``fresh`` tokens the measured phase sends each one once. With
    DPoP, every call from the first (warm-up included) takes the next proof.
    """

    def __init__(self, config: ClientConfig) -> None:
        self.fixed: Metadata | None = None
        self.fresh: list[Metadata] = []
        self.generation_s = 0.0
        began = time.perf_counter()
        if config.key is not None and config.dpop_key is not None:
            self.fresh = _dpop_calls(config, Signer(config.key))
        elif config.key is not None:
            signer = Signer(config.key)

            def mint() -> str:
                return signer.access_token(issuer=config.issuer, client_id="ag_bench", scope=SCOPE)

            self.fixed = _bearer(mint())
            self.fresh = [_bearer(mint()) for _ in range(config.distinct_tokens)]
        self.generation_s = time.perf_counter() - began
        self.fresh_phase = config.dpop_key is not None
        self.used = 0
        self.exhausted = False

    def next(self) -> Metadata | None:
        if not self.fresh_phase:
            return self.fixed
        if self.used >= len(self.fresh):
            self.exhausted = True
            return None
        found = self.fresh[self.used]
        self.used += 1
        return found


async def _load(conn: Connection, target: str, config: ClientConfig) -> LoadResult:
    credentials = _Credentials(config)
    async with aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        warm = await _phase(stub, credentials, config.concurrency, config.warmup)
        credentials.fresh_phase = bool(credentials.fresh)
        client_phases(conn)
        cpu = time.process_time()
        result = await _phase(
            stub,
            credentials,
            config.concurrency,
            config.seconds,
            cpu_start=cpu,
            mark=config.cache_mark,
        )
    return with_warmup_failures(warm, result)


async def _phase(
    stub: aio.UnaryUnaryMultiCallable[bytes, bytes],
    credentials: _Credentials,
    concurrency: int,
    seconds: float,
    *,
    cpu_start: float | None = None,
    mark: int = 0,
) -> LoadResult:
    """Keep ``concurrency`` calls in flight for ``seconds``.

    With ``mark`` > 0, also report the call rate before and after the
    ``mark``-th fresh token was sent (the verifier's cache is full from then on).
    """
    latencies: list[float] = []
    failures: list[str] = []
    start = time.perf_counter()
    deadline = start + seconds
    marked: list[tuple[float, int]] = []

    async def worker() -> None:
        perf = time.perf_counter
        while perf() < deadline:
            metadata = credentials.next()
            if credentials.exhausted:
                return
            if mark and credentials.used == mark and not marked:
                marked.append((perf(), len(latencies)))
            began = perf()
            try:
                await stub(b"", metadata=metadata, timeout=30)
            except grpc.RpcError as exc:
                failures.append(f"{exc.code().name}: {exc.details()}")
                continue
            latencies.append(perf() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    end = time.perf_counter()
    elapsed = end - start
    cpu = time.process_time() - cpu_start if cpu_start is not None else 0.0
    extra: dict[str, float] = {
        "fresh_tokens_sent": float(credentials.used),
        "pregeneration_s": credentials.generation_s,
    }
    if marked:
        at, done = marked[0]
        extra["mark_reached_after_s"] = at - start
        extra["rate_before_mark"] = done / (at - start) if at > start else 0.0
        extra["rate_after_mark"] = (len(latencies) - done) / (end - at) if end > at else 0.0
    return LoadResult.summarise(
        latencies,
        failures=len(failures),
        elapsed=elapsed,
        client_cpu_s=cpu,
        exhausted=credentials.exhausted,
        failure_sample=failures[0] if failures else "",
        extra=extra,
    )
