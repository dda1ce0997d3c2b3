"""A durable delivery outbox for signed webhooks (the signature itself is
``webhook_signing.py``; the tables ``webhook_tables.py``).

Delivery: a service writes a row with ``Outbox.enqueue`` in the same transaction
as the change it reports (so an accepted change always gets its webhook), and a
``PeriodicJob`` runs ``Outbox.deliver_due``: it leases due rows with
``FOR UPDATE SKIP LOCKED`` (two replicas never take the same row), posts them
outside the transaction, records every attempt, and schedules retries.

What is posted is decided when a delivery is attempted, by a ``Prepare``
callable: agency webhooks sign the stored JSON body with the subscription's
current secret (``signed_json``); identity's back-channel logout mints a fresh
logout token instead. Either way the request is built just before it is sent,
so a timestamp or an expiry in it is never stale after a wait in the batch.

Deliveries are sent in lanes, one per receiving host: lanes run concurrently
(at most ``workers`` at once), each lane's deliveries one after another, so a
slow or dead receiver delays only its own agency's deliveries. The periodic job
runs ``dispatch_due``, which hands what it leased to the lanes and returns
without waiting for them: a lane still busy with a slow host keeps its rows
(their lease is the guard: no run, here or on another replica, takes them
again), rows leased later for that host join the end of its lane, and other
hosts' new rows go out at the next run while the slow lane works.
``deliver_due`` does the same and waits for the lanes (tools, tests).

Every attempt goes through ``egress_http`` (the address guard, a total
deadline, a capped read of the answer, no redirects). Whatever goes wrong with
one delivery, an invalid URL included, is recorded as that delivery's failed
attempt and the others still go. A row a lane has not started within half its
lease goes back, due at once, before the lease could hand it to another
replica; a process that dies mid-send leaves its rows to the lease's end, and
they are retried then.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.runtime import egress_http
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.egress import PUBLIC_ONLY, Egress
from services.runtime.webhook_signing import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class Delivery:
    id: str
    tenant: str
    subscription_id: str
    url: str
    event_id: str
    event_type: str
    body: bytes
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class RetryPolicy:
    """``delays[i]`` is the wait after failed attempt ``i + 1``; after the last, give up."""

    delays: Sequence[timedelta]
    retry_client_errors: bool = True  # False: a 4xx other than 408/429 is final

    def next_delay(self, attempts: int) -> timedelta | None:
        return self.delays[attempts - 1] if attempts - 1 < len(self.delays) else None


Sender = Callable[[str, bytes, dict[str, str]], int]
Request = tuple[bytes, dict[str, str]]  # body and headers


@dataclass(frozen=True)
class Gone:
    """Nothing can be sent any more (the subscription was disabled, the agency
    removed): recorded as the attempt's error, and the delivery fails at once."""

    reason: str


# Called while the delivery is leased (with that transaction's session): a
# callable that builds the request just before it is sent, or Gone.
Prepare = Callable[[Session, "Delivery"], "Callable[[], Request] | Gone"]


def signed_json(secret_for: Callable[[Session, Delivery], str | None], user_agent: str) -> Prepare:
    """Agency webhooks: the stored JSON body, signed with ``Gaap-Signature``."""

    def prepare(session: Session, delivery: Delivery) -> Callable[[], Request] | Gone:
        secret = secret_for(session, delivery)
        if secret is None:
            return Gone("subscription disabled")

        def request() -> Request:
            return delivery.body, {
                "content-type": "application/json",
                "user-agent": user_agent,
                SIGNATURE_HEADER: sign(secret, delivery.body),
                "Gaap-Event-Id": delivery.event_id,
                "Gaap-Delivery-Id": delivery.id,
            }

        return request

    return prepare


def http_sender(
    egress: Egress,
    *,
    seconds: float = 5.0,
    max_body: int = egress_http.DEFAULT_MAX_BODY,
) -> Sender:
    """POSTs through the egress guard, each within ``seconds`` in all, reading
    at most ``max_body`` bytes of the answer (only its status matters)."""
    client = egress_http.client(egress, timeout=seconds)

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        reply = egress_http.post(
            client, url, content=body, headers=headers, seconds=seconds, max_body=max_body
        )
        return reply.status

    return send


def receiver(url: str) -> str:
    """The lane a delivery goes in: its URL's host (the URL itself if it has none)."""
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _broken(error: Exception) -> Callable[[], Request]:
    """A request that could not be prepared: attempting it records the error."""

    def request() -> Request:
        raise error

    return request


@dataclass(frozen=True)
class _Leased:
    delivery: Delivery
    request: Callable[[], Request] | Gone
    start_by: float  # time.monotonic(): not started by then, the row goes back


@dataclass
class _Lane:
    """One receiving host's leased rows, sent one after another by one thread."""

    receiver: str
    queue: deque[_Leased]
    urls: set[str] = field(default_factory=set)


# Past this many distinct URLs in running lanes the lease query stops naming
# them; rows for a busy host then still join its lane, only leased earlier.
_EXCLUDED_URLS = 200


class Outbox:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        deliveries: sa.Table,
        attempts: sa.Table,
        *,
        prepare: Prepare,
        policy: RetryPolicy,
        sender: Sender | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
        workers: int = 8,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``sender``: default, POSTs that may reach public addresses only."""
        self._sessions = sessions
        self.deliveries = deliveries
        self.attempts = attempts
        self._prepare = prepare
        self._policy = policy
        self._send = sender or http_sender(PUBLIC_ONLY)
        self._lease = lease
        self._batch = batch
        self._workers = workers
        self._clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._changed = threading.Condition()
        self._closing = False

    @staticmethod
    def enqueue(
        session: Session,
        deliveries: sa.Table,
        *,
        tenant: str,
        subscription_id: str,
        url: str,
        event_id: str,
        event_type: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> str:
        delivery_id = "whd_" + uuid.uuid4().hex
        session.execute(
            deliveries.insert().values(
                id=delivery_id,
                tenant=tenant,
                subscription_id=subscription_id,
                url=url,
                event_id=event_id,
                event_type=event_type,
                body=json.dumps(payload, separators=(",", ":"), sort_keys=True).encode(),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        return delivery_id

    def dispatch_due(self) -> int:
        """Lease due deliveries and hand them to lanes, without waiting for them
        (what the periodic job runs); returns how many were handed over."""
        with self._changed:
            if self._closing or len(self._lanes) >= self._workers:
                return 0
            busy = {url for lane in self._lanes.values() for url in lane.urls}
        leased = self._lease_due(busy if len(busy) <= _EXCLUDED_URLS else set())
        start_by = time.monotonic() + self._lease.total_seconds() / 2
        hosts: dict[str, list[_Leased]] = {}
        for delivery, request in leased:
            hosts.setdefault(receiver(delivery.url), []).append(
                _Leased(delivery, request, start_by)
            )
        started: list[_Lane] = []
        left: list[str] = []
        with self._changed:
            for host, items in hosts.items():
                lane = self._lanes.get(host)
                if lane is None and len(self._lanes) >= self._workers:
                    left.extend(item.delivery.id for item in items)
                    continue
                if lane is None:
                    lane = self._lanes[host] = _Lane(host, deque())
                    started.append(lane)
                lane.queue.extend(items)  # a busy host's new rows wait behind its others
                lane.urls.update(item.delivery.url for item in items)
        for lane in started:
            # Each lane in a copy of this context: a trace or request id goes along.
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._run_lane, lane),
                name="outbox-lane",
                daemon=True,  # a process that stops mid-send: the lease brings the rows back
            ).start()
        if left:
            self._release(left)
        return len(leased) - len(left)

    def deliver_due(self) -> int:
        """``dispatch_due``, then wait until every lane has finished."""
        handed = self.dispatch_due()
        self.wait_idle()
        return handed

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no lane runs; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._lanes, timeout)

    def close(self) -> None:
        """Stop taking rows; lanes end after their current attempt, and the
        rows they had not started are due again at once (for other replicas)."""
        with self._changed:
            self._closing = True

    def _run_lane(self, lane: _Lane) -> None:
        try:
            while True:
                with self._changed:
                    if not lane.queue:
                        del self._lanes[lane.receiver]  # atomically: none joins it now
                        self._changed.notify_all()
                        return
                    now = time.monotonic()
                    late: list[str] = []
                    while lane.queue and (self._closing or lane.queue[0].start_by < now):
                        late.append(lane.queue.popleft().delivery.id)
                    item = None if late else lane.queue.popleft()
                if item is None:
                    self._release(late)
                    continue
                try:
                    self._attempt(item.delivery, item.request)
                except Exception as exc:  # recording failed: the lease brings it back
                    log.error(
                        "webhook attempt not recorded",
                        extra={"delivery": item.delivery.id, "error": type(exc).__name__},
                    )
        except Exception as exc:  # the database went away: the lease brings the rows back
            log.error("webhook lane stopped", extra={"error": type(exc).__name__})
        finally:
            with self._changed:
                if self._lanes.get(lane.receiver) is lane:
                    del self._lanes[lane.receiver]
                    self._changed.notify_all()

    def _release(self, ids: list[str]) -> None:
        """Leased but not attempted: due again now, not only when the lease ends."""
        d = self.deliveries
        with transaction(self._sessions) as session:
            session.execute(
                d.update()
                .where(d.c.id.in_(ids), d.c.state == "pending")
                .values(next_attempt_at=self._clock())
            )

    def _lease_due(self, busy: set[str]) -> list[tuple[Delivery, Callable[[], Request] | Gone]]:
        """Due rows, leased; ``busy``: URLs whose lane still runs, left for later
        so a slow host's backlog does not fill every batch."""
        d = self.deliveries
        now = self._clock()
        with transaction(self._sessions) as session:
            query = (
                sa.select(d)
                .where(d.c.state == "pending", d.c.next_attempt_at <= now)
                .order_by(d.c.next_attempt_at)
                .limit(self._batch)
            )
            if busy:
                query = query.where(d.c.url.not_in(sorted(busy)))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = [Delivery(**r._mapping) for r in session.execute(query)]
            if not rows:
                return []
            # The lease: if this process dies mid-send, the row is due again later.
            session.execute(
                d.update()
                .where(d.c.id.in_([r.id for r in rows]))
                .values(next_attempt_at=now + self._lease)
            )
            return [(r, self._prepared(session, r)) for r in rows]

    def _prepared(self, session: Session, delivery: Delivery) -> Callable[[], Request] | Gone:
        try:
            return self._prepare(session, delivery)
        except Exception as exc:
            return _broken(exc)

    def _attempt(self, delivery: Delivery, request: Callable[[], Request] | Gone) -> None:
        started = time.perf_counter()
        status: int | None = None
        if isinstance(request, Gone):
            self._record(delivery, None, request.reason, 0, gone=True)
            return
        error: str | None = None
        try:
            body, headers = request()
            status = self._send(delivery.url, body, headers)
        except Exception as exc:  # whatever it is, it is this delivery's failed attempt
            error = egress_http.safe_error(exc)
        elapsed = int((time.perf_counter() - started) * 1000)
        self._record(delivery, status, error, elapsed)

    def _record(
        self,
        delivery: Delivery,
        status: int | None,
        error: str | None,
        duration_ms: int,
        *,
        gone: bool = False,
    ) -> None:
        now = self._clock()
        d = self.deliveries
        attempts = delivery.attempts + 1
        succeeded = status is not None and 200 <= status < 300
        final_client_error = (
            status is not None
            and 400 <= status < 500
            and status not in (408, 429)
            and not self._policy.retry_client_errors
        )
        values: dict[str, Any] = {"attempts": attempts}
        if succeeded:
            values.update(state="succeeded", finished_at=now)
        else:
            delay = None if final_client_error or gone else self._policy.next_delay(attempts)
            if delay is None:
                values.update(state="failed", finished_at=now)
            else:
                values.update(next_attempt_at=now + delay)
        with transaction(self._sessions) as session:
            session.execute(
                self.attempts.insert().values(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    status_code=status,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            session.execute(
                d.update().where(d.c.id == delivery.id, d.c.state == "pending").values(**values)
            )
        log.info(
            "webhook attempt",
            extra={
                "delivery": delivery.id,
                "event_type": delivery.event_type,
                "status_code": status,
                "error": error,
                "attempt": attempts,
            },
        )

    def purge_finished(self, before: datetime, batch: int = 1000) -> int:
        """Forget deliveries that ended (succeeded or failed) before ``before``,
        with their attempts, a batch per transaction; returns how many."""
        d, a = self.deliveries, self.attempts
        purged = 0
        while True:
            with transaction(self._sessions) as session:
                ids = list(
                    session.execute(
                        sa.select(d.c.id)
                        .where(d.c.state != "pending", d.c.finished_at < before)
                        .limit(batch)
                    ).scalars()
                )
                if not ids:
                    return purged
                session.execute(a.delete().where(a.c.delivery_id.in_(ids)))
                session.execute(d.delete().where(d.c.id.in_(ids)))
            purged += len(ids)

    def attempts_of(self, session: Session, delivery_id: str) -> list[Attempt]:
        a = self.attempts
        rows = session.execute(
            sa.select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.attempted_at, a.c.id)
        )
        return [Attempt(r.attempted_at, r.status_code, r.error, r.duration_ms) for r in rows]
