"""Back-channel logout through the outbox: a token owed to an agency is written
with the session's end, survives a restart, is retried until the agency takes
it, and is never sent for a session end that rolled back; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
import sqlalchemy as sa

from services.identity.adapters.logout_outbox import logout_deliveries
from services.identity.adapters.tables import backchannel_attempts, backchannel_deliveries
from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.bootstrap import Identity, open_identity
from services.identity.domain.agencies import Agency
from services.identity.service_layer.logout import BACKCHANNEL_EVENT, BackChannel
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.periodic import PeriodicJob
from tests.support.platform import ISSUER


class AgencyEndpoint:
    """An agency's back-channel URI: answers with the queued statuses, then 200."""

    def __init__(self, *statuses: int, seconds: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.seconds = seconds  # how long each request takes to answer
        self.received: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.received.append((url, body, headers))
        time.sleep(self.seconds)
        return self.statuses.pop(0) if self.statuses else 200

    def tokens(self) -> list[str]:
        return [parse_qs(body.decode())["logout_token"][0] for _, body, _ in self.received]


@pytest.fixture(scope="module")
def identity(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identity]:
    platform = PlatformSettings(issuer=ISSUER, var_dir=tmp_path_factory.mktemp("var"))
    opened = open_identity(platform, IdentitySettings(database_url=database_url))
    yield opened
    opened.database.close()


@pytest.fixture
def agency(identity: Identity) -> Agency:
    created = identity.registry.create(
        name="Parking permits",
        scopes=["openid"],
        redirect_uris=["https://parking.example/callback"],
        backchannel_logout_uri=f"https://parking.example/logout/{uuid.uuid4().hex}",
    )
    return created.agency


def back_channel(identity: Identity, endpoint: AgencyEndpoint) -> BackChannel:
    """What a replica (or a restarted process) builds."""
    return BackChannel(
        lambda token: logout_deliveries(identity.database.sessions, token, sender=endpoint),
        identity.citizen_tokens,
        identity.keys,
        issuer=ISSUER,
    )


def owed(identity: Identity, agency: Agency) -> list[Any]:
    d = backchannel_deliveries
    with identity.database.engine.connect() as conn:
        return list(conn.execute(sa.select(d).where(d.c.tenant == agency.client_id)))


def make_due(identity: Identity, agency: Agency) -> None:
    """As if the retry's wait had passed."""
    d = backchannel_deliveries
    with transaction(identity.database.sessions) as session:
        session.execute(
            d.update()
            .where(d.c.tenant == agency.client_id, d.c.state == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def end_session(channel: BackChannel, identity: Identity, agency: Agency, sid: str) -> None:
    with identity_transactions(identity.database.sessions)() as uow:
        assert channel.queue(uow, "acc_backchannel", {sid: [agency.client_id]}) == 1


def verified(identity: Identity, token: str, agency: Agency) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"
    keys = {k["kid"]: jwt.PyJWK(k) for k in identity.keys.jwks()["keys"]}
    claims: dict[str, Any] = jwt.decode(
        token,
        keys[header["kid"]],
        algorithms=["ES256", "RS256"],
        audience=agency.client_id,
        issuer=ISSUER,
    )
    assert claims["exp"] - claims["iat"] == 120
    assert BACKCHANNEL_EVENT in claims["events"]
    assert "nonce" not in claims
    return claims


def test_a_token_owed_survives_a_restart_and_is_retried_until_taken(
    identity: Identity, agency: Agency
) -> None:
    down = AgencyEndpoint(503)
    first = back_channel(identity, down)
    end_session(first, identity, agency, "sid-restart")
    [row] = owed(identity, agency)
    assert row.state == "pending"
    assert row.url == agency.backchannel_logout_uri

    first.outbox.deliver_due()  # the agency is down: retried later
    assert len(down.received) == 1
    [row] = owed(identity, agency)
    assert (row.state, row.attempts) == ("pending", 1)

    # The process is gone; another one (a replica, or this one restarted)
    # delivers what is still owed once the retry falls due.
    up = AgencyEndpoint()
    second = back_channel(identity, up)
    assert second.outbox.deliver_due() == 0  # not due yet
    make_due(identity, agency)
    second.outbox.deliver_due()
    assert len(up.received) == 1
    url, _, headers = up.received[0]
    assert url == agency.backchannel_logout_uri
    assert headers["content-type"] == "application/x-www-form-urlencoded"

    before = verified(identity, down.tokens()[0], agency)
    after = verified(identity, up.tokens()[0], agency)
    assert after["sid"] == before["sid"] == "sid-restart"
    subject = identity.citizen_tokens.subject("acc_backchannel", agency)
    assert after["sub"] == before["sub"] == subject
    assert after["jti"] == before["jti"]  # the same token id: a repeat is recognisable
    [row] = owed(identity, agency)
    assert (row.state, row.attempts) == ("succeeded", 2)
    with identity.database.engine.connect() as conn:
        statuses = conn.execute(
            sa.select(backchannel_attempts.c.status_code)
            .where(backchannel_attempts.c.delivery_id == row.id)
            .order_by(backchannel_attempts.c.id)
        ).scalars()
        assert list(statuses) == [503, 200]

    make_due(identity, agency)
    second.outbox.deliver_due()
    assert len(up.received) == 1  # delivered once, never again


def test_a_session_end_that_rolls_back_owes_nothing(identity: Identity, agency: Agency) -> None:
    endpoint = AgencyEndpoint()
    channel = back_channel(identity, endpoint)

    def failing_end() -> None:
        with identity_transactions(identity.database.sessions)() as uow:
            channel.queue(uow, "acc_backchannel", {"sid-rolled-back": [agency.client_id]})
            raise RuntimeError("the session's end failed")

    with pytest.raises(RuntimeError):
        failing_end()
    assert owed(identity, agency) == []
    channel.outbox.deliver_due()
    assert endpoint.received == []


def test_an_agency_that_refuses_the_token_is_not_asked_again(
    identity: Identity, agency: Agency
) -> None:
    refusing = AgencyEndpoint(400)
    channel = back_channel(identity, refusing)
    end_session(channel, identity, agency, "sid-refused")
    channel.outbox.deliver_due()
    [row] = owed(identity, agency)
    assert (row.state, row.attempts) == ("failed", 1)
    make_due(identity, agency)
    channel.outbox.deliver_due()
    assert len(refusing.received) == 1


def test_nothing_is_sent_to_an_agency_disabled_since(identity: Identity, agency: Agency) -> None:
    endpoint = AgencyEndpoint()
    channel = back_channel(identity, endpoint)
    end_session(channel, identity, agency, "sid-disabled")
    identity.registry.disable(agency.client_id)
    channel.outbox.deliver_due()
    assert endpoint.received == []
    [row] = owed(identity, agency)
    assert row.state == "failed"


def test_agencies_without_a_back_channel_uri_are_owed_nothing(identity: Identity) -> None:
    plain = identity.registry.create(
        name="Library", scopes=["openid"], redirect_uris=["https://library.example/cb"]
    ).agency
    channel = back_channel(identity, AgencyEndpoint())
    with identity_transactions(identity.database.sessions)() as uow:
        assert channel.queue(uow, "acc_backchannel", {"sid-plain": [plain.client_id]}) == 0
    assert owed(identity, plain) == []


def test_a_committed_session_end_wakes_the_delivery_job(identity: Identity, agency: Agency) -> None:
    endpoint = AgencyEndpoint()
    channel = back_channel(identity, endpoint)
    delivered = threading.Event()

    def deliver() -> None:
        if channel.outbox.deliver_due():
            delivered.set()

    # An interval far longer than the test: only the wake-up can run it.
    channel.job = PeriodicJob("backchannel-logout", 3600, deliver)
    channel.job.start()
    try:
        end_session(channel, identity, agency, "sid-woken")
        assert delivered.wait(10)
    finally:
        channel.job.stop()
    assert len(endpoint.received) == 1


def test_the_job_is_woken_only_after_commit(identity: Identity, agency: Agency) -> None:
    channel = back_channel(identity, AgencyEndpoint())
    woken: list[bool] = []
    channel.job = PeriodicJob("backchannel-logout", 3600, lambda: None)
    channel.job.wake = lambda: woken.append(True)  # type: ignore[method-assign]
    with identity_transactions(identity.database.sessions)() as uow:
        channel.queue(uow, "acc_backchannel", {"sid-order": [agency.client_id]})
        assert woken == []  # not while the rows are still uncommitted
    assert woken == [True]


def test_finished_deliveries_are_purged_after_a_week(identity: Identity, agency: Agency) -> None:
    channel = back_channel(identity, AgencyEndpoint())
    for sid in ("sid-old", "sid-recent", "sid-pending"):
        end_session(channel, identity, agency, sid)
    d = backchannel_deliveries
    by_sid = {json.loads(r.body)["sid"]: r.id for r in owed(identity, agency)}
    with transaction(identity.database.sessions) as session:
        long_ago = utcnow() - timedelta(days=8)
        session.execute(
            d.update()
            .where(d.c.id == by_sid["sid-old"])
            .values(state="succeeded", finished_at=long_ago)
        )
        session.execute(
            d.update()
            .where(d.c.id == by_sid["sid-recent"])
            .values(state="succeeded", finished_at=utcnow() - timedelta(days=1))
        )
        session.execute(
            backchannel_attempts.insert().values(
                delivery_id=by_sid["sid-old"], attempted_at=long_ago, duration_ms=3, status_code=200
            )
        )
    assert channel.purge() >= 1
    left = {json.loads(r.body)["sid"] for r in owed(identity, agency)}
    assert left == {"sid-recent", "sid-pending"}
    with identity.database.engine.connect() as conn:
        orphans = conn.execute(
            sa.select(backchannel_attempts.c.id).where(
                backchannel_attempts.c.delivery_id == by_sid["sid-old"]
            )
        ).all()
    assert orphans == []


def test_two_replicas_delivering_at_once_send_each_token_once(
    identity: Identity, agency: Agency
) -> None:
    # A slow agency: the first replica is still sending when the second looks.
    endpoint = AgencyEndpoint(seconds=0.1)
    replicas = [back_channel(identity, endpoint), back_channel(identity, endpoint)]
    for i in range(5):
        end_session(replicas[0], identity, agency, f"sid-race-{i}")
    start = threading.Barrier(len(replicas))

    def deliver(channel: BackChannel) -> None:
        start.wait()
        channel.outbox.deliver_due()

    threads = [threading.Thread(target=deliver, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # The database is the module's: other tests' agencies may be owed tokens too.
    mine = [
        parse_qs(body.decode())["logout_token"][0]
        for url, body, _ in endpoint.received
        if url == agency.backchannel_logout_uri
    ]
    sids = sorted(verified(identity, t, agency)["sid"] for t in mine)
    assert sids == [f"sid-race-{i}" for i in range(5)]  # each once, none twice
    assert {r.state for r in owed(identity, agency)} == {"succeeded"}
