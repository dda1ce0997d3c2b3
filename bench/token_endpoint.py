"""``token`` and ``token-dpop``: client_credentials with private_key_jwt against the
real identity service.

identity is built by its own composition root (``services.identity.bootstrap``)
and started by the shared ``services.runtime.process.start`` in a server
process, on SQLite in a temporary var dir and, when 127.0.0.1:5432 answers, on a
throwaway PostgreSQL database. The client process pre-generates one signed
client assertion per request (each ``jti`` is accepted once) and keeps
``CONCURRENCY`` HTTP/1.1 keep-alive connections busy with a minimal asyncio
client, far cheaper per request than httpx, so the two cores go to the server.
``token-dpop`` adds a pre-generated DPoP proof to each request (unique ``jti``,
``htu`` the token endpoint) and compares it with the same requests without one,
measured first against the same identity process.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.grpc_load import configure_logging
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
from bench.keys import DpopSigner, KeyPair, Signer, new_key_pair
from bench.report import Figure, Target, measurement_figures

CONCURRENCY = 32
ISSUER = "http://127.0.0.1:8081"
TOKEN_PATH = "/oauth2/token"
SCOPE = "payments:read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
HYDRA_TOKENS_PER_S = 411.0  # Ory Hydra's published client_credentials figure on 2 CPUs
MAX_TOKENS_PER_S = 3000  # upper bound used to size the pre-generated assertions
POSTGRES = ("127.0.0.1", 5432)
NO_FAILURES = Target("value", "==", 0)
DPOP_TARGET = Target("ratio", ">=", 0.8)


@dataclass(frozen=True)
class IdentityConfig:
    var_dir: str
    database_url: str
    jwks: dict[str, Any]
    access_log: bool = False


@dataclass(frozen=True)
class TokenClientConfig:
    port: int
    client_id: str
    audience: str
    key: KeyPair
    seconds: float
    warmup: float
    assertions: int
    concurrency: int = CONCURRENCY
    dpop_key: KeyPair | None = None  # set: a DPoP proof by this key on every request


# --- server process ------------------------------------------------------------


def serve_identity(conn: Connection, stop: Event, config: IdentityConfig) -> None:
    """Register a bench agency, then run identity until ``stop`` is set."""
    try:
        configure_logging(config.access_log)
        from services.identity.bootstrap import build, open_identity
        from services.identity.settings import IdentitySettings
        from services.runtime.config import PlatformSettings
        from services.runtime.process import settle_heap, start

        # model_validate: exactly these settings, whatever GAAP_* / IDENTITY_* say.
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
                "database_url": config.database_url,
            }
        )
        identity = open_identity(platform, settings)
        created = identity.registry.create(name="Bench agency", scopes=[SCOPE], jwks=config.jwks)
        identity.database.close()
        running = start(build(platform, settings))
        settle_heap()  # as services.runtime.process.run does
    except Exception as exc:
        conn.send(describe(exc))
        raise
    conn.send(
        {
            "port": running.http_port,
            "client_id": created.agency.client_id,
            "issuer": platform.issuer,
        }
    )
    stop.wait()
    running.stop(1.0)


# --- client process ------------------------------------------------------------


def load(conn: Connection, config: TokenClientConfig) -> None:
    try:
        conn.send(asyncio.run(_load(conn, config)))
    except Exception as exc:
        conn.send(describe(exc))
        raise


def _requests(config: TokenClientConfig) -> list[bytes]:
    signer = Signer(config.key)
    head = (
        f"POST {TOKEN_PATH} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{config.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Accept: application/json\r\n"
    )
    dpop = DpopSigner(config.dpop_key) if config.dpop_key else None
    requests = []
    for _ in range(config.assertions):
        assertion = signer.client_assertion(client_id=config.client_id, audience=config.audience)
        # The assertion's audience is the token endpoint, which is also the proof's htu.
        proof = f"DPoP: {dpop.proof(config.audience)}\r\n" if dpop else ""
        body = urlencode(
            {
                "grant_type": "client_credentials",
                "scope": SCOPE,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            }
        ).encode()
        requests.append(f"{head}{proof}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    requests.reverse()  # popped from the end, oldest assertion first
    return requests


class _Connection:
    """One HTTP/1.1 keep-alive connection that understands Content-Length bodies."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length is None:
            raise ValueError("response without Content-Length")
        body = await self._reader.readexactly(length)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _load(conn: Connection, config: TokenClientConfig) -> LoadResult:
    requests = _requests(config)
    # A DPoP request must come back bound to the key, not as a bearer token.
    expect = b'"DPoP"' if config.dpop_key else b'"access_token"'
    connections = [_Connection(config.port) for _ in range(config.concurrency)]
    warm = await _phase(connections, requests, config.warmup, expect)
    client_phases(conn)
    cpu = time.process_time()
    result = await _phase(connections, requests, config.seconds, expect, cpu_start=cpu)
    for c in connections:
        c.close()
    return with_warmup_failures(warm, result)


async def _phase(
    connections: list[_Connection],
    requests: list[bytes],
    seconds: float,
    expect: bytes,
    cpu_start: float | None = None,
) -> LoadResult:
    latencies: list[float] = []
    failures: list[str] = []
    exhausted = False
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(connection: _Connection) -> None:
        nonlocal exhausted
        perf = time.perf_counter
        while perf() < deadline:
            if not requests:
                exhausted = True
                return
            request = requests.pop()
            began = perf()
            try:
                status, body = await connection.send(request)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                connection.close()
                failures.append(describe(exc))
                continue
            if status != 200 or b'"access_token"' not in body or expect not in body:
                failures.append(f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
                continue
            latencies.append(perf() - began)

    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - start
    return LoadResult.summarise(
        latencies,
        failures=len(failures),
        elapsed=elapsed,
        client_cpu_s=time.process_time() - cpu_start if cpu_start is not None else 0.0,
        exhausted=exhausted,
        failure_sample=failures[0] if failures else "",
    )


# --- the benchmark ---------------------------------------------------------------


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(POSTGRES, timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh database ``gaap_bench_<random>``, dropped afterwards."""
    import psycopg

    name = f"gaap_bench_{secrets.token_hex(4)}"
    admin = f"postgresql://postgres@{POSTGRES[0]}:{POSTGRES[1]}/postgres"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{POSTGRES[0]}:{POSTGRES[1]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_token(
    session: Session, key: str, database_url: str, var_dir: str, *, dpop: bool = False
) -> list[Measurement]:
    """The token endpoint measured as ``key``; with ``dpop``, then measured again
    on the same server with a DPoP proof on every request, as ``key-dpop``."""
    pair = new_key_pair()
    identity = IdentityConfig(var_dir, database_url, pair.public_jwks, session.access_log)
    with server_process(serve_identity, identity) as running:
        info = running.info
        client = TokenClientConfig(
            port=info["port"],
            client_id=info["client_id"],
            audience=info["issuer"] + TOKEN_PATH,
            key=pair,
            seconds=session.seconds,
            warmup=session.warmup,
            assertions=math.ceil(MAX_TOKENS_PER_S * (session.warmup + session.seconds)),
        )
        timeout = phase_timeout(session.seconds, session.warmup)
        label = f"identity token endpoint ({key})"
        measured = [session.record(key, measure(label, running, load, client, timeout=timeout))]
        if dpop:
            client = replace(client, dpop_key=new_key_pair())
            m = measure(f"{label} with DPoP", running, load, client, timeout=timeout)
            measured.append(session.record(f"{key}-dpop", m))
    return measured


def _figures(name: str, m: Measurement) -> list[Figure]:
    figures = measurement_figures(
        "token",
        name,
        m,
        unit="tokens/s",
        per="token",
    )
    rate = figures[0]
    figures[0] = Figure(
        rate.benchmark, rate.name, rate.value, rate.unit, HYDRA_TOKENS_PER_S, "Hydra, published"
    )
    figures.append(
        Figure("token", f"{name} failed requests", m.load.failures, "", target=NO_FAILURES)
    )
    return figures


def token(session: Session) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="gaap-bench-") as var_dir:
        sqlite_url = f"sqlite:///{Path(var_dir) / 'identity.db'}"
        (m,) = run_token(session, "token-sqlite", sqlite_url, var_dir)
        figures = _figures("token sqlite", m)
        if not postgres_reachable():
            session.notes.append("token postgres: skipped, nothing listens on 127.0.0.1:5432")
            return figures
        with throwaway_postgres() as url:
            (m,) = run_token(session, "token-postgres", url, var_dir)
        figures += _figures("token postgres", m)
    return figures


def token_dpop(session: Session) -> list[Figure]:
    """On SQLite: the same server without DPoP, then with a proof per request."""
    with tempfile.TemporaryDirectory(prefix="gaap-bench-") as var_dir:
        sqlite_url = f"sqlite:///{Path(var_dir) / 'identity.db'}"
        base, m = run_token(session, "token-dpop-base", sqlite_url, var_dir, dpop=True)
    figures = measurement_figures(
        "token-dpop",
        "token-dpop sqlite",
        m,
        unit="tokens/s",
        per="token",
        baseline=base,
        baseline_source="no DPoP, same server",
        rate_target=DPOP_TARGET,
    )
    failed = m.load.failures + base.load.failures
    figures.append(
        Figure("token-dpop", "token-dpop failed requests", failed, "", target=NO_FAILURES)
    )
    return figures
