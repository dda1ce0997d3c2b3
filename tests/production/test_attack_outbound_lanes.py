"""Attacks on the webhook outbox's time (issue 13 follow-ups): a receiver whose
name never resolves, and one that never answers, must hold up only their own
deliveries. ``getaddrinfo`` on a hostile DNS zone is bounded by the attempt's
deadline in a bounded pool; the periodic job hands rows to lanes and does not
wait for them, so other agencies' new rows go out while a slow lane works,
while the lease still keeps every row to one lane on one replica.

Receivers are local HTTP servers reached through names an injected resolver
answers; the outbox runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.runtime import db, egress_http, webhook_tables, webhooks
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.egress import (
    LOOPBACK,
    Egress,
    Lookups,
    ResolveTimeout,
    parse_networks,
)
from services.runtime.periodic import PeriodicJob

Tables = tuple[sessionmaker[Session], sa.Table, sa.Table]
HANG_GUARD = 20.0  # how long a blocked test double waits before giving up on the test
UNRESOLVED_IN_TIME = "the host name did not resolve within the deadline"


def until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Wait for ``condition`` (checked every 20 ms), at most ``timeout`` seconds."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        pause.wait(0.02)
    return condition()


@pytest.fixture(scope="module")
def tables(database_url: str) -> Iterator[Tables]:
    metadata = sa.MetaData()
    deliveries, attempts = webhook_tables.define_tables(metadata)
    engine = db.create_engine(database_url)
    metadata.create_all(engine)
    yield db.session_factory(engine), deliveries, attempts
    engine.dispose()


def outbox(tables: Tables, sender: webhooks.Sender) -> webhooks.Outbox:
    sessions, deliveries, attempts = tables
    return webhooks.Outbox(
        sessions,
        deliveries,
        attempts,
        prepare=webhooks.signed_json(lambda session, d: "whsec_test", "GaaP-Test/1"),
        policy=webhooks.RetryPolicy([timedelta(minutes=1)]),
        sender=sender,
    )


def enqueue(tables: Tables, *urls: str) -> list[str]:
    sessions, deliveries, _ = tables
    with transaction(sessions) as session:
        return [
            webhooks.Outbox.enqueue(
                session,
                deliveries,
                tenant="ag_lanes",
                subscription_id="whs_1",
                url=url,
                event_id=uuid.uuid4().hex,
                event_type="payment.succeeded",
                payload={"n": n},
                now=utcnow(),
            )
            for n, url in enumerate(urls)
        ]


def outcome(tables: Tables, delivery_id: str) -> tuple[str, list[tuple[int | None, str | None]]]:
    sessions, deliveries, attempts = tables
    with sessions() as session:
        state = session.execute(
            sa.select(deliveries.c.state).where(deliveries.c.id == delivery_id)
        ).scalar_one()
        rows = session.execute(
            sa.select(attempts.c.status_code, attempts.c.error)
            .where(attempts.c.delivery_id == delivery_id)
            .order_by(attempts.c.id)
        )
        return state, [(r.status_code, r.error) for r in rows]


# -- item 1: a name that never resolves ----------------------------------------------------


class HungResolver:
    """A DNS zone that answers only when the test releases it."""

    def __init__(self, answer: str = "127.0.0.1") -> None:
        self.answer = answer
        self.release = threading.Event()
        self.returned = threading.Event()
        self._lock = threading.Condition()
        self.calls = 0
        self.inside = 0
        self.most_at_once = 0

    def __call__(self, host: str, port: int) -> Sequence[str]:
        with self._lock:
            self.calls += 1
            self.inside += 1
            self.most_at_once = max(self.most_at_once, self.inside)
            self._lock.notify_all()
        try:
            self.release.wait(HANG_GUARD)
            return [self.answer]
        finally:
            with self._lock:
                self.inside -= 1
            self.returned.set()

    def wait_inside(self, count: int) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self.inside >= count, HANG_GUARD)


def test_a_name_that_never_resolves_fails_its_attempt_within_the_deadline(
    tables: Tables,
) -> None:
    resolver = HungResolver()
    egress = Egress(parse_networks(LOOPBACK), resolver=resolver, lookups=Lookups(2))
    (hung,) = enqueue(tables, "http://hung.test.example:9/hook")
    try:
        assert outbox(tables, webhooks.http_sender(egress, seconds=1.0)).deliver_due() == 1
        # Recorded as failed while the lookup is still blocked, with a safe reason.
        assert resolver.calls == 1
        assert not resolver.returned.is_set()
        assert outcome(tables, hung) == ("pending", [(None, UNRESOLVED_IN_TIME)])
    finally:
        resolver.release.set()


def test_an_sms_provider_whose_name_never_resolves_fails_within_the_deadline() -> None:
    resolver = HungResolver()
    egress = Egress(parse_networks(LOOPBACK), resolver=resolver, lookups=Lookups(2))

    async def send() -> None:
        async with egress_http.async_client(egress, timeout=5) as http:
            await egress_http.apost(
                http, "http://hung.test.example:9/sms", json={}, headers={}, seconds=1.0
            )

    try:
        with pytest.raises(httpx.TimeoutException):
            asyncio.run(send())
        # Given up on while the lookup is still blocked: the event loop was free.
        assert resolver.calls == 1
        assert not resolver.returned.is_set()
    finally:
        resolver.release.set()


def test_hung_lookups_hold_no_more_threads_than_the_pool_has() -> None:
    resolver = HungResolver(answer="93.184.215.14")
    egress = Egress(resolver=resolver, lookups=Lookups(2))
    try:
        for _ in range(5):
            with pytest.raises(ResolveTimeout):
                egress.resolve("hung.example", 443, timeout=0.2)
        assert resolver.wait_inside(2)
        lookups = [t for t in threading.enumerate() if t.name == "egress-resolve"]
        # Two lookups hang in their two threads; the other three never started one.
        assert (resolver.calls, resolver.most_at_once, len(lookups)) == (2, 2, 2)
    finally:
        resolver.release.set()
    for thread in lookups:
        thread.join(HANG_GUARD)
    assert not any(thread.is_alive() for thread in lookups)
    # The slots came back with the threads.
    assert egress.resolve("hung.example", 443, timeout=HANG_GUARD) == [ip_address("93.184.215.14")]


# -- item 2: the job does not wait for a slow lane ----------------------------------------


class Receiver:
    """One HTTP server on 127.0.0.1: ``/slow...`` answers once the test releases
    it, counting how many of its requests are open at once; the rest answer 200."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.slow_entered = threading.Event()
        self.open_slow = 0
        self.most_open_slow = 0
        self.hits: list[str] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.hits.append(f"{self.headers['host'].partition(':')[0]}{self.path}")
                code = 200
                if self.path.startswith("/slow"):
                    with lock:
                        receiver.open_slow += 1
                        receiver.most_open_slow = max(receiver.most_open_slow, receiver.open_slow)
                    receiver.slow_entered.set()
                    code = 200 if receiver.release.wait(HANG_GUARD) else 503
                    with lock:
                        receiver.open_slow -= 1
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str, path: str) -> str:
        return f"http://{host}.test.example:{self.server.server_port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.release.set()
    running.server.shutdown()


LOCAL = Egress(parse_networks(LOOPBACK), resolver=lambda host, port: ["127.0.0.1"])


def test_other_receivers_new_rows_go_out_while_a_slow_lane_is_still_blocked(
    tables: Tables, receiver: Receiver
) -> None:
    box = outbox(tables, webhooks.http_sender(LOCAL, seconds=HANG_GUARD + 10))
    replica = outbox(tables, webhooks.http_sender(LOCAL, seconds=HANG_GUARD + 10))
    # As the services run it: the periodic job calls dispatch_due.
    job = PeriodicJob("test-webhooks", 3600, box.dispatch_due)
    job.start()
    try:
        (slow,) = enqueue(tables, receiver.url("slow", "/slow"))
        job.wake()
        assert receiver.slow_entered.wait(HANG_GUARD)

        # Enqueued after the first run started: another agency's rows, and one
        # more for the slow host (another URL there).
        healthy = enqueue(tables, receiver.url("a", "/ok"), receiver.url("b", "/ok"))
        (slow_too,) = enqueue(tables, receiver.url("slow", "/slow/other"))
        job.wake()
        assert until(lambda: all(outcome(tables, d)[0] == "succeeded" for d in healthy))

        # ...while the slow receiver still holds the first run's request.
        assert not receiver.release.is_set()
        assert outcome(tables, slow) == ("pending", [])
        # The lease is the guard: another replica takes neither slow row.
        assert replica.deliver_due() == 0
        assert outcome(tables, slow_too) == ("pending", [])
    finally:
        receiver.release.set()
        job.stop()
    assert box.wait_idle(HANG_GUARD)
    assert outcome(tables, slow) == outcome(tables, slow_too) == ("succeeded", [(200, None)])
    # One lane per host: the second slow row waited behind the first.
    assert receiver.most_open_slow == 1
    slow_hits = [hit for hit in receiver.hits if hit.startswith("slow.")]
    assert slow_hits == ["slow.test.example/slow", "slow.test.example/slow/other"]


def test_rows_a_closing_outbox_had_not_started_go_to_another_replica(
    tables: Tables, receiver: Receiver
) -> None:
    box = outbox(tables, webhooks.http_sender(LOCAL, seconds=HANG_GUARD + 10))
    first, queued = enqueue(tables, receiver.url("slow", "/slow"), receiver.url("slow", "/ok"))
    assert box.dispatch_due() == 2
    assert receiver.slow_entered.wait(HANG_GUARD)
    box.close()  # the service stops while its lane is mid-send
    assert box.dispatch_due() == 0
    receiver.release.set()
    assert box.wait_idle(HANG_GUARD)
    # What it sent is recorded; what it had not started is due again at once.
    assert outcome(tables, first) == ("succeeded", [(200, None)])
    assert outcome(tables, queued) == ("pending", [])
    replica = outbox(tables, webhooks.http_sender(LOCAL, seconds=HANG_GUARD))
    assert replica.deliver_due() == 1
    assert outcome(tables, queued) == ("succeeded", [(200, None)])
