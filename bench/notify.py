"""notify's benchmarks: ``notify-send``, ``notify-bulk`` and ``notify-delivery``.

- ``notify-send``: ``SendEmail`` over gRPC with 64 calls in flight, each with a
  fresh idempotency key, against notify as production builds it (``open_notify``
  + ``serve``: interceptors, servicer, one transaction per send) on a throwaway
  PostgreSQL database, in a pinned server process with tokens verified against a
  static JWKS and the rate and daily limits raised out of the way; ratio to the
  empty-RPC ``floor`` of the same run, target >= 0.5.
- ``notify-bulk``: 100,000 rows (CSV) validated and queued by
  ``BulkSendService.send_bulk`` on a throwaway PostgreSQL database (SQLite when
  PostgreSQL is absent); seconds, target under 10.
- ``notify-delivery``: N emails queued, then sent by the worker's ``Deliverer``
  (claim, render, SMTP, record) to the local SMTP sink running in its own
  process; baseline: a bare aiosmtplib client sending the same messages with
  the same concurrency (same number of connections) to the same sink, same run.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import aiosmtplib
import psycopg
from grpc import aio

from bench.grpc_floor import DEFAULT_WORKERS, floor_measurement
from bench.grpc_load import CONCURRENCY as CALLS_IN_FLIGHT
from bench.grpc_load import configure_logging
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
from bench.keys import KeyPair, Signer, new_key_pair
from bench.payments import _phase as keep_in_flight
from bench.report import Figure, Target, measurement_figures
from bench.token_endpoint import postgres_reachable, throwaway_postgres
from services.notify.bootstrap import Notify, deliverer, open_notify, sms_client
from services.notify.domain.templates import Content
from services.notify.service_layer.bulk_sends import BulkRequest
from services.notify.settings import NotifySettings
from services.runtime.config import PlatformSettings
from services.runtime.context import Principal
from services.runtime.egress import LOOPBACK
from services.runtime.idempotency import Keyed
from tests.support import databases

BULK_ROWS = 100_000
DELIVERY_EMAILS = 2_000
CONCURRENCY = 8
AGENCY = Principal("bench-agency", "live", frozenset({"notify:send"}), "bench", 0)
ISSUER = "http://127.0.0.1:8081"
SEND_TARGET = Target("ratio", ">=", 0.5)
UNLIMITED = 10**9  # rate and daily limits out of the way: measure the sends


@contextmanager
def _database(var: Path) -> Iterator[tuple[str, str]]:
    try:
        with psycopg.connect(databases.POSTGRES_ADMIN, connect_timeout=3):
            pass
    except psycopg.OperationalError:
        yield f"sqlite:///{var / 'notify.db'}", "SQLite"
        return
    with databases.fresh_postgres_database(databases.POSTGRES_ADMIN) as url:
        yield url, "PostgreSQL"


def _notify(url: str, var: Path, **extra: object) -> Notify:
    settings = NotifySettings(
        database_url=url,
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        email_daily_limit=10_000_000,
        **extra,  # type: ignore[arg-type]
    )
    return open_notify(PlatformSettings(var_dir=var, allow_private_targets=LOOPBACK), settings)


def _template(notify: Notify) -> str:
    created = notify.templates.create(
        AGENCY.client_id,
        "email",
        "Bench",
        [Content("en", "Your ((thing)) is ready", "# Hello ((name))\n\nYour ((thing)) is ready.")],
        Keyed(AGENCY.client_id, uuid.uuid4().hex, "fp"),
        lambda _: b"",
    )
    return created.id  # type: ignore[union-attr]


def _queue(notify: Notify, template_id: str, rows: int) -> float:
    csv = "email address,name,thing\n" + "".join(
        f"person{i}@example.com,Person {i},licence {i}\n" for i in range(rows)
    )
    began = time.perf_counter()
    notify.bulk_sends.send_bulk(
        AGENCY,
        BulkRequest(template_id, csv=csv),
        Keyed(AGENCY.client_id, uuid.uuid4().hex, "fp"),
        lambda _: b"",
    )
    return time.perf_counter() - began


def notify_bulk(session: Session) -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp, _database(Path(tmp)) as (url, backend):
        notify = _notify(url, Path(tmp))
        try:
            seconds = _queue(notify, _template(notify), BULK_ROWS)
        finally:
            notify.database.close()
    return [
        Figure(
            "notify-bulk",
            f"bulk {BULK_ROWS:,} rows validated+queued ({backend})",
            seconds,
            "s",
            target=Target("value", "<=", 10.0),
        )
    ]


def _sink(conn: Connection, stop: Event, directory: str) -> None:
    from services.notify.sinks.smtp import SmtpSink

    with socket.socket() as probe:  # a free port (the sink needs a number to listen on)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = SmtpSink(Path(directory), port=port).start()
    conn.send({"port": sink.port})
    stop.wait()
    sink.stop()


async def _bare(port: int, count: int) -> float:
    from email.message import EmailMessage

    messages = []
    for i in range(count):
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = "a@gaap.localhost", f"p{i}@example.com", "Hi"
        m.set_content("Hello")
        m.add_alternative("<p>Hello</p>", subtype="html")
        messages.append(m)
    queue: asyncio.Queue[EmailMessage] = asyncio.Queue()
    for m in messages:
        queue.put_nowait(m)

    async def connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        while not queue.empty():
            await client.send_message(queue.get_nowait())
        await client.quit()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    return time.perf_counter() - began


async def _worker(notify: Notify) -> float:
    async with sms_client(notify) as http:
        worker = deliverer(notify, http)
        began = time.perf_counter()
        await worker.run_until_idle()
        return time.perf_counter() - began


def notify_delivery(session: Session) -> list[Figure]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        _database(Path(tmp)) as (url, backend),
        server_process(_sink, str(Path(tmp) / "mail")) as sink,
    ):
        port = int(sink.info["port"])
        notify = _notify(
            url,
            Path(tmp),
            smtp_port=port,
            smtp_connections=CONCURRENCY,
            worker_concurrency=CONCURRENCY,
            worker_batch=500,
        )
        try:
            _queue(notify, _template(notify), DELIVERY_EMAILS)
            worker_s = asyncio.run(_worker(notify))
        finally:
            notify.database.close()
        bare_s = asyncio.run(_bare(port, DELIVERY_EMAILS))
    worker_rate, bare_rate = DELIVERY_EMAILS / worker_s, DELIVERY_EMAILS / bare_s
    return [
        Figure(
            "notify-delivery",
            f"worker -> SMTP sink emails/s ({backend}, {CONCURRENCY} in flight)",
            worker_rate,
            "emails/s",
            bare_rate,
            f"bare aiosmtplib, {CONCURRENCY} connections",
            Target("ratio", ">=", 0.7),
        )
    ]


# --- notify-send ---------------------------------------------------------------------


@dataclass(frozen=True)
class SendServerConfig:
    database_url: str
    var_dir: str
    jwk: dict[str, Any]
    access_log: bool


@dataclass(frozen=True)
class SendClientConfig:
    template_id: str
    key: KeyPair
    seconds: float
    warmup: float
    concurrency: int = CALLS_IN_FLIGHT


def serve_notify(conn: Connection, stop: Event, config: SendServerConfig) -> None:
    """Server process: notify's gRPC API on ``database_url`` until ``stop``."""
    try:
        from services.notify.bootstrap import serve
        from services.runtime import process

        configure_logging(config.access_log)
        platform = PlatformSettings(issuer=ISSUER, var_dir=Path(config.var_dir))
        settings = NotifySettings(
            database_url=config.database_url,
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            rate_per_minute=UNLIMITED,
            rate_burst=UNLIMITED,
            email_daily_limit=UNLIMITED,
        )
        notify = open_notify(platform, settings)
        template_id = _template(notify)
        jwks = {"keys": [config.jwk]}
        spec = serve(platform, settings, notify, jwks=lambda: jwks)
        spec.jobs = ()  # measure the calls, not the callback and retention jobs
        running = process.start(spec)
        process.settle_heap()  # as process.run does
        conn.send({"port": running.grpc_port, "template_id": template_id})
        stop.wait()
        running.stop(grace=1)
    except Exception as exc:
        conn.send(describe(exc))
        raise


def send_load(conn: Connection, target: str, config: SendClientConfig) -> None:
    try:
        conn.send(asyncio.run(_send_load(conn, target, config)))
    except Exception as exc:
        conn.send(describe(exc))
        raise


async def _send_load(conn: Connection, target: str, config: SendClientConfig) -> LoadResult:
    from gaap.notify.v1 import notify_pb2 as pb
    from gaap.notify.v1 import notify_pb2_grpc as pb_grpc

    token = Signer(config.key).access_token(
        issuer=ISSUER, client_id=AGENCY.client_id, scope="notify:send"
    )
    metadata = (("authorization", f"Bearer {token}"),)
    numbers = itertools.count()
    run = time.time_ns()

    def request() -> Any:
        i = next(numbers)
        return pb.SendEmailRequest(
            template_id=config.template_id,
            email_address=f"person{i}@example.com",
            personalisation={
                "name": pb.PersonalisationValue(text=f"Person {i}"),
                "thing": pb.PersonalisationValue(text=f"licence {i}"),
            },
            reference=f"BENCH-{i}",
            idempotency_key=f"bench-{run}-{i}",
        )

    async with aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = pb_grpc.NotifyServiceStub(channel)

        async def call() -> None:
            await stub.SendEmail(request(), metadata=metadata, timeout=30)

        warm = await keep_in_flight(call, config.concurrency, config.warmup)
        client_phases(conn)
        cpu = time.process_time()
        result = await keep_in_flight(call, config.concurrency, config.seconds, cpu_start=cpu)
    return with_warmup_failures(warm, result)


def notify_send(session: Session) -> list[Figure]:
    """SendEmail accepted per second, 64 in flight, on PostgreSQL: ratio to the floor >= 0.5."""
    base = floor_measurement(session)
    if not postgres_reachable():
        session.notes.append("notify-send: skipped, nothing listens on 127.0.0.1:5432")
        return []
    pair = new_key_pair()
    server_cpus, client_cpus = session.placement or (None, None)
    with tempfile.TemporaryDirectory(prefix="gaap-bench-") as var_dir, throwaway_postgres() as url:
        config = SendServerConfig(url, var_dir, pair.public_jwk, session.access_log)
        with server_process(serve_notify, config, cpus=server_cpus) as running:
            client = SendClientConfig(
                str(running.info["template_id"]), pair, session.seconds, session.warmup
            )
            m = measure(
                "notify SendEmail (PostgreSQL)",
                running,
                send_load,
                f"127.0.0.1:{running.info['port']}",
                client,
                timeout=phase_timeout(session.seconds, session.warmup),
                cpus=client_cpus,
            )
    session.record("notify-send", m)
    return measurement_figures(
        "notify-send",
        "SendEmail",
        m,
        baseline=base,
        baseline_source=f"floor, threads/{DEFAULT_WORKERS}",
        rate_target=SEND_TARGET,
    )
