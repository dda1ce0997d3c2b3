"""The runtime pieces services build on: idempotency keys, rate limits, signed
webhooks with their outbox. Real databases, real Redis, a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.runtime import (
    db,
    idempotency,
    idempotency_sql,
    webhook_signing,
    webhook_tables,
    webhooks,
)
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.egress import LOOPBACK, Egress
from services.runtime.errors import AlreadyExists, InvalidArgument, ResourceExhausted
from services.runtime.idempotency import Keyed
from services.runtime.rate_limit import Limit, LocalRateLimiter, RedisRateLimiter, connect


@pytest.fixture(scope="module")
def sessions(database_url: str) -> Iterator[tuple[sessionmaker[Session], dict[str, sa.Table]]]:
    metadata = sa.MetaData()
    keys = idempotency_sql.define_table(metadata)
    deliveries, attempts = webhook_tables.define_tables(metadata)
    effects = sa.Table("effects", metadata, sa.Column("id", sa.String(40), primary_key=True))
    engine = db.create_engine(database_url)
    metadata.create_all(engine)
    yield (
        db.session_factory(engine),
        {
            "keys": keys,
            "deliveries": deliveries,
            "attempts": attempts,
            "effects": effects,
        },
    )
    engine.dispose()


def _do(
    sessions: sessionmaker[Session], tables: dict[str, sa.Table], key: str, request: bytes
) -> bytes:
    """A mutating operation: one effect row per new key, its id as the response."""
    with transaction(sessions) as session:
        keys = idempotency_sql.SqlIdempotencyKeys(session, tables["keys"])
        call = Keyed("ag_a", key, idempotency.fingerprint("Op", request))
        replay = keys.claim(call)
        if replay is not None:
            return replay
        effect = uuid.uuid4().hex
        session.execute(tables["effects"].insert().values(id=effect))
        keys.complete(call, effect.encode())
        return effect.encode()


def _effects(sessions: sessionmaker[Session], tables: dict[str, sa.Table]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(tables["effects"])) or 0)


def test_same_key_same_request_replays_and_different_request_is_refused(
    sessions: tuple[sessionmaker[Session], dict[str, sa.Table]],
) -> None:
    factory, tables = sessions
    before = _effects(factory, tables)
    key = uuid.uuid4().hex
    first = _do(factory, tables, key, b"amount=100")
    assert _do(factory, tables, key, b"amount=100") == first
    with pytest.raises(AlreadyExists, match="different request"):
        _do(factory, tables, key, b"amount=999")
    assert _effects(factory, tables) == before + 1


def test_keys_are_per_tenant_and_expire(
    sessions: tuple[sessionmaker[Session], dict[str, sa.Table]],
) -> None:
    factory, tables = sessions
    key = uuid.uuid4().hex
    fp = idempotency.fingerprint("Op", b"x")
    with transaction(factory) as session:
        keys = idempotency_sql.SqlIdempotencyKeys(
            session, tables["keys"], ttl=timedelta(seconds=-1)
        )
        assert keys.claim(Keyed("ag_a", key, fp)) is None
        keys.complete(Keyed("ag_a", key, fp), b"old")
    with transaction(factory) as session:
        keys = idempotency_sql.SqlIdempotencyKeys(session, tables["keys"])
        assert keys.claim(Keyed("ag_b", key, fp)) is None  # another agency: its own key
        assert keys.claim(Keyed("ag_a", key, fp)) is None  # expired: free again
        keys.complete(Keyed("ag_a", key, fp), b"new")
    with transaction(factory) as session:
        assert (
            idempotency_sql.purge_expired(session, tables["keys"], utcnow() + timedelta(days=2))
            >= 2
        )


def test_racing_identical_requests_make_one_effect(
    sessions: tuple[sessionmaker[Session], dict[str, sa.Table]],
) -> None:
    factory, tables = sessions
    before = _effects(factory, tables)
    key = uuid.uuid4().hex
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(_do(factory, tables, key, b"same"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8
    assert len(set(results)) == 1
    assert _effects(factory, tables) == before + 1


@pytest.mark.parametrize("bad", ["", "x" * 256, "tab\there"])
def test_bad_keys_are_invalid_argument(bad: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        idempotency.check_key(bad)
    assert caught.value.violations[0].field == "idempotency_key"


# -- rate limits -------------------------------------------------------------------


def test_local_bucket_allows_the_burst_then_says_when_to_retry() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(clock=lambda: now[0])
    limit = Limit(rate=10, burst=5)
    for _ in range(5):
        limiter.acquire("ag_a", limit)
    with pytest.raises(ResourceExhausted) as caught:
        limiter.acquire("ag_a", limit)
    assert caught.value.retry_after == pytest.approx(0.1)
    limiter.acquire("ag_b", limit)  # buckets are per key
    now[0] += 0.1
    limiter.acquire("ag_a", limit)


def test_redis_bucket_is_shared_by_two_limiters(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    first = connect(redis_url, prefix)
    second = connect(redis_url, prefix)  # another replica, same Redis
    assert isinstance(first, RedisRateLimiter)
    limit = Limit(rate=0.5, burst=4)
    first.acquire("ag_a", limit)
    second.acquire("ag_a", limit)
    first.acquire("ag_a", limit)
    second.acquire("ag_a", limit)
    with pytest.raises(ResourceExhausted) as caught:
        first.acquire("ag_a", limit)
    assert 0 < caught.value.retry_after <= 2.0
    second.acquire("ag_b", limit)


def test_local_bucket_takes_every_one_of_many_into_debt_and_refuses_while_in_debt() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(clock=lambda: now[0])
    limit = Limit(rate=10, burst=5)
    limiter.acquire_many("ag_a", limit, 25)  # larger than the burst: taken whole
    with pytest.raises(ResourceExhausted) as caught:
        limiter.acquire("ag_a", limit)
    assert caught.value.retry_after == pytest.approx(2.1)  # 20 owed, then one more
    with pytest.raises(ResourceExhausted):
        limiter.acquire_many("ag_a", limit, 2)
    now[0] += 2.5  # the debt is paid and five more seconds' worth saved up
    limiter.acquire_many("ag_a", limit, 5)
    with pytest.raises(ResourceExhausted):
        limiter.acquire("ag_a", limit)


def test_redis_bucket_takes_many_into_debt_for_every_replica(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    first = connect(redis_url, prefix)
    second = connect(redis_url, prefix)
    limit = Limit(rate=0.5, burst=4)
    first.acquire_many("ag_a", limit, 40)
    with pytest.raises(ResourceExhausted) as caught:
        second.acquire("ag_a", limit)
    assert 70 < caught.value.retry_after <= 74.0  # 36 owed at half a token a second
    with pytest.raises(ResourceExhausted):
        second.acquire_many("ag_a", limit, 1)


def test_unreachable_redis_is_a_startup_error() -> None:
    from services.runtime.errors import StartupError

    with pytest.raises(StartupError, match="REDIS_URL"):
        connect("redis://127.0.0.1:1/0", "x")


def test_redis_outage_after_start_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: every call meets a Redis error, as in an outage after start.
    limiter = RedisRateLimiter(redis.Redis.from_url("redis://127.0.0.1:1/0"), "x")
    limit = Limit(rate=1, burst=1)
    with caplog.at_level(logging.ERROR, logger="services.runtime.rate_limit"):
        for _ in range(3):  # beyond the burst of one: still let through
            limiter.acquire("ag_a", limit)
        limiter.acquire_many("ag_a", limit, 10)
    outages = [r for r in caplog.records if r.name == "services.runtime.rate_limit"]
    assert len(outages) == 4  # each call let through says so
    assert all(r.levelno == logging.ERROR for r in outages)
    assert all("rate limiter unavailable" in r.getMessage() for r in outages)


# -- signed webhooks ---------------------------------------------------------------


def independent_verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """Written from the documented format only, not from services.runtime.webhooks."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256)
    fresh = abs(time.time() - int(fields["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), fields["v1"])


def test_signature_round_trip_and_replay_window() -> None:
    secret = webhook_signing.new_secret()
    body = b'{"type":"payment.succeeded"}'
    header = webhook_signing.sign(secret, body)
    assert independent_verify(secret, header, body)
    assert webhook_signing.verify(secret, header, body)
    assert not webhook_signing.verify(secret, header, body + b" ")
    assert not webhook_signing.verify("whsec_other", header, body)
    old = webhook_signing.sign(secret, body, int(time.time()) - 301)
    assert not webhook_signing.verify(secret, old, body)
    assert not webhook_signing.verify(secret, "t=abc,v1=00", body)
    rotated = header + ",v1=" + "0" * 64
    assert webhook_signing.verify(secret, rotated, body)


class _Receiver:
    def __init__(self) -> None:
        self.codes: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()


def _outbox(
    factory: sessionmaker[Session],
    tables: dict[str, sa.Table],
    secret: str | None,
    now: list[Any],
    retry_client_errors: bool = True,
) -> webhooks.Outbox:
    return webhooks.Outbox(
        factory,
        tables["deliveries"],
        tables["attempts"],
        prepare=webhooks.signed_json(lambda session, delivery: secret, "GaaP-Webhooks/1"),
        policy=webhooks.RetryPolicy(
            [timedelta(minutes=1), timedelta(minutes=5)], retry_client_errors=retry_client_errors
        ),
        # The receiver is on 127.0.0.1: let loopback through, as make run does.
        sender=webhooks.http_sender(Egress.from_setting(LOOPBACK)),
        clock=lambda: now[0],
    )


def _enqueue(
    factory: sessionmaker[Session], tables: dict[str, sa.Table], url: str, now: Any
) -> str:
    with transaction(factory) as session:
        return webhooks.Outbox.enqueue(
            session,
            tables["deliveries"],
            tenant="ag_a",
            subscription_id="sub_1",
            url=url,
            event_id=uuid.uuid4().hex,
            event_type="payment.succeeded",
            payload={"id": "evt", "type": "payment.succeeded"},
            now=now,
        )


def _state(factory: sessionmaker[Session], tables: dict[str, sa.Table], delivery: str) -> Any:
    d = tables["deliveries"]
    with factory() as session:
        return session.execute(sa.select(d).where(d.c.id == delivery)).one()


def test_outbox_retries_on_schedule_records_attempts_and_signs(
    sessions: tuple[sessionmaker[Session], dict[str, sa.Table]], receiver: _Receiver
) -> None:
    factory, tables = sessions
    now = [utcnow()]
    secret = webhook_signing.new_secret()
    outbox = _outbox(factory, tables, secret, now)
    delivery = _enqueue(factory, tables, receiver.url, now[0])
    receiver.codes = [500, 503]

    assert outbox.deliver_due() >= 1
    assert _state(factory, tables, delivery).state == "pending"
    assert outbox.deliver_due() == 0  # next try only after a minute
    now[0] += timedelta(minutes=1)
    outbox.deliver_due()
    now[0] += timedelta(minutes=4)
    assert outbox.deliver_due() == 0
    now[0] += timedelta(minutes=1)
    outbox.deliver_due()
    row = _state(factory, tables, delivery)
    assert (row.state, row.attempts) == ("succeeded", 3)
    with factory() as session:
        codes = [a.status_code for a in outbox.attempts_of(session, delivery)]
    assert codes == [500, 503, 200]
    for headers, body in receiver.received[-3:]:
        assert independent_verify(secret, headers["Gaap-Signature"], body)
        assert json.loads(body)["type"] == "payment.succeeded"


def test_outbox_gives_up_after_the_schedule_and_on_final_client_errors(
    sessions: tuple[sessionmaker[Session], dict[str, sa.Table]], receiver: _Receiver
) -> None:
    factory, tables = sessions
    now = [utcnow() + timedelta(days=1)]
    outbox = _outbox(factory, tables, webhook_signing.new_secret(), now, retry_client_errors=False)
    gone = _enqueue(factory, tables, receiver.url, now[0])
    receiver.codes = [404]
    outbox.deliver_due()
    assert _state(factory, tables, gone).state == "failed"

    down = _enqueue(factory, tables, "http://127.0.0.1:1/unreachable", now[0])
    for _ in range(3):
        outbox.deliver_due()
        now[0] += timedelta(minutes=10)
    row = _state(factory, tables, down)
    assert (row.state, row.attempts) == ("failed", 3)
