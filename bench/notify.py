"""notify's benchmarks: ``notify-bulk`` and ``notify-delivery``.

- ``notify-bulk``: 100,000 rows (CSV) validated and queued by
  ``SendingService.send_bulk`` on a throwaway PostgreSQL database (SQLite when
  PostgreSQL is absent); seconds, target under 10.
- ``notify-delivery``: N emails queued, then sent by the worker's ``Deliverer``
  (claim, render, SMTP, record) to the local SMTP sink running in its own
  process; baseline: a bare aiosmtplib client sending the same messages with
  the same concurrency (same number of connections) to the same sink, same run.

Not here yet: ``SendEmail`` accepted/s over gRPC against the empty-RPC floor.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import aiosmtplib
import httpx
import psycopg

from bench.harness import Session, server_process
from bench.report import Figure, Target
from services.notify.bootstrap import Notify, deliverer, open_notify
from services.notify.domain.templates import Content
from services.notify.service_layer.common import Idempotent
from services.notify.service_layer.sending import BulkRequest
from services.notify.settings import NotifySettings
from services.runtime.config import PlatformSettings
from services.runtime.context import Principal
from tests.support import databases

BULK_ROWS = 100_000
DELIVERY_EMAILS = 2_000
CONCURRENCY = 8
AGENCY = Principal("bench-agency", "live", frozenset({"notify:send"}), "bench", 0)


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
    return open_notify(PlatformSettings(var_dir=var), settings)


def _template(notify: Notify) -> str:
    created = notify.templates.create(
        AGENCY.client_id,
        "email",
        "Bench",
        [Content("en", "Your ((thing)) is ready", "# Hello ((name))\n\nYour ((thing)) is ready.")],
        Idempotent(uuid.uuid4().hex, "fp", lambda _: b""),
    )
    return created.id  # type: ignore[union-attr]


def _queue(notify: Notify, template_id: str, rows: int) -> float:
    csv = "email address,name,thing\n" + "".join(
        f"person{i}@example.com,Person {i},licence {i}\n" for i in range(rows)
    )
    began = time.perf_counter()
    notify.sending.send_bulk(
        AGENCY,
        BulkRequest(template_id, csv=csv),
        Idempotent(uuid.uuid4().hex, "fp", lambda _: b""),
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
    from tests.integration.notify.support import free_port

    sink = SmtpSink(Path(directory), port=free_port()).start()
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
    async with httpx.AsyncClient() as http:
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
