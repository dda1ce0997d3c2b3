"""The one idempotency path every service uses (services.runtime.idempotency):
the request fingerprint, claim/complete/replay, the conflict message, and the
one stored format (with the older id formats still replayed)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy.orm import Session, sessionmaker

from services.runtime import idempotency
from services.runtime.db import create_engine, session_factory, transaction
from services.runtime.errors import AlreadyExists, InvalidArgument
from services.runtime.idempotency import IdempotencyStore, Keyed, Replay
from services.runtime.idempotency_sql import SqlIdempotencyKeys, define_table
from services.runtime.ids import new_id
from tests.fakes.idempotency import MemoryIdempotencyKeys
from tests.fakes.transactions import FakeTransactions

metadata = sa.MetaData()
keys_table = define_table(metadata)
items = sa.Table("items", metadata, sa.Column("name", sa.String(40), primary_key=True))


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    metadata.create_all(engine)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def _request(**changes: object) -> pb.CreatePaymentRequest:
    fields: dict[str, object] = {
        "amount": 1200,
        "currency": "GBP",
        "reference": "ref-1",
        "description": "A licence",
        "return_url": "https://agency.example/done",
        "idempotency_key": "key-1",
    }
    fields.update(changes)
    return pb.CreatePaymentRequest(**fields)  # type: ignore[arg-type]


# -- the fingerprint ---------------------------------------------------------------


def test_the_fingerprint_is_stable_and_ignores_the_key_itself() -> None:
    first = idempotency.keyed("CreatePayment", _request(), "agency-a")
    again = idempotency.keyed("CreatePayment", _request(), "agency-a")
    other_key = idempotency.keyed("CreatePayment", _request(idempotency_key="key-2"), "agency-a")
    assert first == again == Keyed("agency-a", "key-1", first.fingerprint)
    assert other_key.fingerprint == first.fingerprint
    assert re.fullmatch(r"[0-9a-f]{64}", first.fingerprint)
    # Pinned: a fingerprint stored by one release must match the next one's.
    rest = _request()
    rest.ClearField("idempotency_key")
    assert first.fingerprint == idempotency.fingerprint(
        "CreatePayment", rest.SerializeToString(deterministic=True)
    )


def test_the_fingerprint_does_not_depend_on_how_a_map_was_built() -> None:
    # Non-deterministic serialization writes a map in its hash table's order, which depends on
    # what was inserted and deleted before: a client's retry may build its map another way.
    keys = [f"k{n}" for n in range(30)]
    one = _request()
    for key in keys:
        one.metadata[key] = "v"
    two = _request()
    for n in range(60):
        two.metadata[f"x{n}"] = "gone"
    for key in reversed(keys):
        two.metadata[key] = "v"
    for n in range(60):
        del two.metadata[f"x{n}"]
    assert one.metadata == two.metadata
    assert (
        idempotency.keyed("CreatePayment", one, "t").fingerprint
        == idempotency.keyed("CreatePayment", two, "t").fingerprint
    )


def test_the_fingerprint_formula_is_pinned() -> None:
    # Fingerprints are stored with each key: a retry that spans an upgrade must still match,
    # so the formula (SHA-256 of the method, a NUL, the request's bytes) never changes.
    assert (
        idempotency.fingerprint("CreatePayment", b"\x08\xb0\x09")
        == "ba6f68488a11f56b43ef486a9ebbd890d167e728e0edd9023a751dab07c68e84"
    )


def test_the_fingerprint_changes_with_any_field_or_the_method() -> None:
    base = idempotency.keyed("CreatePayment", _request(), "agency-a").fingerprint
    assert idempotency.keyed("CreatePayment", _request(amount=1201), "a").fingerprint != base
    assert idempotency.keyed("CreatePayment", _request(reference="r2"), "a").fingerprint != base
    assert (
        idempotency.keyed("CreatePayment", _request(email="a@b.example"), "a").fingerprint != base
    )
    assert idempotency.keyed("CapturePayment", _request(), "agency-a").fingerprint != base


def test_the_fingerprint_does_not_depend_on_map_order() -> None:
    one = _request()
    one.metadata["a"] = "1"
    one.metadata["b"] = "2"
    two = _request()
    two.metadata["b"] = "2"
    two.metadata["a"] = "1"
    assert (
        idempotency.keyed("CreatePayment", one, "t").fingerprint
        == idempotency.keyed("CreatePayment", two, "t").fingerprint
    )


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey"])
def test_a_missing_or_malformed_key_is_refused_naming_the_field(key: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        idempotency.keyed("CreatePayment", _request(idempotency_key=key), "agency-a")
    assert [v.field for v in refused.value.violations] == ["idempotency_key"]
    assert refused.value.violations[0].description == "required: 1 to 255 printable characters"


def test_a_key_of_the_longest_allowed_length_is_taken() -> None:
    keyed = idempotency.keyed("CreatePayment", _request(idempotency_key="x" * 255), "agency-a")
    assert keyed.key == "x" * 255


# -- claim, complete, replay: the same contract on the SQL store and the fake --------


@dataclass
class Work:
    """A unit of work with an idempotency store and one list of created names."""

    idempotency: IdempotencyStore
    created: list[str]


class Sql:
    """Units of work on SQLite: the production store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @contextmanager
    def __call__(self) -> Iterator[Work]:
        with transaction(self.sessions) as session:
            created: list[str] = []
            yield Work(SqlIdempotencyKeys(session, keys_table), created)
            for name in created:
                session.execute(items.insert().values(name=name))

    def names(self) -> list[str]:
        with self.sessions() as session:
            return list(session.execute(sa.select(items.c.name)).scalars())


class Memory:
    """The in-memory fake the use-case tests use."""

    def __init__(self) -> None:
        self.transactions = FakeTransactions(Work(MemoryIdempotencyKeys(), []))

    def __call__(self) -> AbstractContextManager[Work]:
        return self.transactions()

    def names(self) -> list[str]:
        return list(self.transactions.state.created)


Units = Sql | Memory


@pytest.fixture(params=["sql", "memory"])
def units(request: pytest.FixtureRequest, sessions: sessionmaker[Session]) -> Units:
    return Sql(sessions) if request.param == "sql" else Memory()


def _create(units: Units, call: Keyed, name: str) -> str | Replay:
    def work(uow: Work) -> str:
        uow.created.append(name)
        return name

    return idempotency.run_once(
        units, call, work, lambda n: StringValue(value=n).SerializeToString()
    )


def test_the_same_key_and_request_replays_the_first_response_and_works_once(
    units: Units,
) -> None:
    call = Keyed("agency-a", "key-1", "f" * 64)
    assert _create(units, call, "first") == "first"
    replay = _create(units, call, "second")
    assert isinstance(replay, Replay)
    assert StringValue.FromString(replay.response).value == "first"
    assert units.names() == ["first"]


def test_the_same_key_with_another_request_is_refused_saying_so(units: Units) -> None:
    _create(units, Keyed("agency-a", "key-1", "a" * 64), "first")
    with pytest.raises(AlreadyExists, match="already used with a different request"):
        _create(units, Keyed("agency-a", "key-1", "b" * 64), "second")
    assert units.names() == ["first"]


def test_keys_are_per_agency(units: Units) -> None:
    assert _create(units, Keyed("agency-a", "key-1", "a" * 64), "a") == "a"
    assert _create(units, Keyed("agency-b", "key-1", "b" * 64), "b") == "b"
    assert sorted(units.names()) == ["a", "b"]


def test_work_that_fails_leaves_the_key_free(units: Units) -> None:
    call = Keyed("agency-a", "key-1", "a" * 64)

    def fail(_: Work) -> str:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        idempotency.run_once(units, call, fail, lambda _: b"")
    assert _create(units, call, "later") == "later"


def test_a_refused_request_replays_its_key_or_raises(units: Units) -> None:
    call = Keyed("agency-a", "key-1", "a" * 64)
    with pytest.raises(LookupError):
        idempotency.replay_or_raise(units, call, LookupError("no template"))
    _create(units, call, "first")
    replay = idempotency.replay_or_raise(units, call, LookupError("changed"))
    assert StringValue.FromString(replay.response).value == "first"


def test_an_id_response_is_protobuf_and_replays_its_id(units: Units) -> None:
    call = Keyed("agency-a", "key-1", "a" * 64)
    with units() as uow:
        assert idempotency.claim_id(uow.idempotency, call) is None
        idempotency.complete_id(uow.idempotency, call, "pay_1")
    with units() as uow:
        assert idempotency.claim_id(uow.idempotency, call) == "pay_1"


def test_the_sql_store_keeps_an_id_response_as_protobuf(sessions: sessionmaker[Session]) -> None:
    call = Keyed("agency-a", "key-1", "a" * 64)
    with transaction(sessions) as session:
        idempotency.claim_id(SqlIdempotencyKeys(session, keys_table), call)
        idempotency.complete_id(SqlIdempotencyKeys(session, keys_table), call, "pay_1")
        stored = session.execute(sa.select(keys_table.c.response)).scalar_one()
    assert StringValue.FromString(stored).value == "pay_1"


def test_no_key_claims_nothing(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        store = SqlIdempotencyKeys(session, keys_table)
        assert idempotency.claim_id(store, None) is None
        idempotency.complete_id(store, None, "acct_1")
        assert session.execute(sa.select(sa.func.count()).select_from(keys_table)).scalar() == 0


@pytest.mark.parametrize(
    "stored",
    [b"agency-client-id", json.dumps({"payment_id": "pay_0123"}).encode()],
    ids=["identity-bare-id", "payments-json"],
)
def test_keys_stored_in_the_older_formats_still_replay_their_id(stored: bytes) -> None:
    expected = "agency-client-id" if not stored.startswith(b"{") else "pay_0123"
    assert idempotency.replayed_id(stored) == expected
    assert idempotency.replayed_id(idempotency.id_response(expected)) == expected


# -- ids ----------------------------------------------------------------------------


def test_ids_are_prefixed_time_ordered_hex() -> None:
    ids = [new_id("pay") for _ in range(300)]  # more than one stock of randomness
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"pay_[0-9a-f]{32}", i) for i in ids)
    times = [i[4:18] for i in ids]
    assert times == sorted(times)
