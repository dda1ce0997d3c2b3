"""``webhooks``: how fast the shared webhook outbox delivers to healthy receivers.

A minimal asyncio HTTP/1.1 receiver runs in its own process, listening on
127.0.0.1-127.0.0.4 (one port), answering every POST ``200`` at once with
keep-alive. ``DELIVERIES`` deliveries are enqueued, then ``Outbox.deliver_due``
runs until none is due; the figure is deliveries per second over that time,
every delivery checked as succeeded. Once with every delivery to one receiver
(one lane: the per-host order is kept), once spread over four receivers (four
lanes at once). On SQLite, then on a throwaway PostgreSQL database when
127.0.0.1:5432 answers.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import sqlalchemy as sa

from bench.harness import Session, server_process
from bench.report import Figure
from bench.token_endpoint import postgres_reachable, throwaway_postgres
from services.runtime import db, webhook_tables, webhooks
from services.runtime.db import transaction
from services.runtime.db_types import utcnow

DELIVERIES = 2000
RECEIVERS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


async def _receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
        pass  # the client went away, or the benchmark is over
    finally:
        writer.close()


def _receiver(conn: Connection, stop: Event) -> None:
    async def serve() -> None:
        first = await asyncio.start_server(_receive, RECEIVERS[0], 0)
        port = first.sockets[0].getsockname()[1]
        others = [await asyncio.start_server(_receive, h, port) for h in RECEIVERS[1:]]
        conn.send({"port": port})
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        for server in (first, *others):
            server.close()

    asyncio.run(serve())


def _sender() -> webhooks.Sender:
    """Through the egress guard with loopback allowed, as ``make run`` sets it."""
    try:
        from services.runtime.egress import LOOPBACK, Egress
    except ImportError:  # the code before the guard, for a before/after comparison
        return webhooks.http_sender()  # type: ignore[call-arg,unused-ignore]
    return webhooks.http_sender(Egress.from_setting(LOOPBACK))  # type: ignore[call-arg,arg-type,unused-ignore]


def _run(url: str, hosts: tuple[str, ...], port: int) -> float:
    metadata = sa.MetaData()
    deliveries, attempts = webhook_tables.define_tables(metadata)
    engine = db.create_engine(url)
    metadata.create_all(engine)
    sessions = db.session_factory(engine)
    outbox = webhooks.Outbox(
        sessions,
        deliveries,
        attempts,
        prepare=webhooks.signed_json(lambda session, d: "whsec_bench", "GaaP-Bench/1"),
        policy=webhooks.RetryPolicy([timedelta(minutes=1)]),
        sender=_sender(),
    )
    now = utcnow()
    with transaction(sessions) as session:
        for i in range(DELIVERIES):
            webhooks.Outbox.enqueue(
                session,
                deliveries,
                tenant=f"ag_{i % 20}",
                subscription_id="whs_bench",
                url=f"http://{hosts[i % len(hosts)]}:{port}/hooks",
                event_id=uuid.uuid4().hex,
                event_type="payment.succeeded",
                payload={"id": f"pay_{i}", "n": i, "amount": 1450, "status": "success"},
                now=now,
            )
    began = time.perf_counter()
    while outbox.deliver_due():
        pass
    elapsed = time.perf_counter() - began
    with sessions() as session:
        done = session.execute(
            sa.select(sa.func.count()).where(deliveries.c.state == "succeeded")
        ).scalar_one()
    metadata.drop_all(engine)
    engine.dispose()
    if done != DELIVERIES:
        raise RuntimeError(f"only {done} of {DELIVERIES} webhooks were delivered")
    return DELIVERIES / elapsed


@contextmanager
def _databases(var: Path) -> Iterator[list[tuple[str, str]]]:
    if not postgres_reachable():
        yield [("SQLite", f"sqlite:///{var / 'webhooks.db'}")]
        return
    with throwaway_postgres() as url:
        yield [("SQLite", f"sqlite:///{var / 'webhooks.db'}"), ("PostgreSQL", url)]


def webhooks_delivery(session: Session) -> list[Figure]:
    figures = []
    with (
        tempfile.TemporaryDirectory(prefix="gaap-bench-") as tmp,
        server_process(_receiver) as receiver,
        _databases(Path(tmp)) as backends,
    ):
        port = int(receiver.info["port"])
        for backend, url in backends:
            for hosts in (RECEIVERS[:1], RECEIVERS):
                rate = _run(url, hosts, port)
                figures.append(
                    Figure(
                        "webhooks",
                        f"Outbox.deliver_due -> {len(hosts)} healthy receiver(s) ({backend})",
                        rate,
                        "deliveries/s",
                    )
                )
    return figures
