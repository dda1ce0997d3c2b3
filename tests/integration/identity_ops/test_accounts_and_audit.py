"""LookupAccount, LockAccount, UnlockAccount and ListAuditEvents over gRPC."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from gaap.identity.v1 import identity_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.identity.domain.audit import EventType
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.signin import Outcome
from tests.integration.identity_ops.support import (
    CITIZEN_SCOPES,
    OPERATOR_SCOPES,
    Caller,
    caller,
    citizen,
    citizen_tokens,
    violations,
)
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def operator(platform: Platform) -> Caller:
    return caller(platform, OPERATOR_SCOPES)


def stamp(at: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(at)
    return t


def key() -> str:
    return uuid.uuid4().hex


def test_lookup_by_id_or_email_shows_status_never_secrets(
    platform: Platform, operator: Caller
) -> None:
    account = citizen(platform)
    by_id = operator.stub.LookupAccount(
        identity_pb2.LookupAccountRequest(account_id=account.id), metadata=operator.metadata
    )
    by_email = operator.stub.LookupAccount(
        identity_pb2.LookupAccountRequest(email=account.email.upper()), metadata=operator.metadata
    )
    assert by_id == by_email
    assert by_id.id == account.id
    assert by_id.email == account.email
    assert by_id.email_verified
    assert not by_id.has_second_factor
    assert not by_id.locked
    assert by_id.create_time.seconds == int(account.created_at.timestamp())
    assert {f.name for f in identity_pb2.Account.DESCRIPTOR.fields}.isdisjoint(
        {"password_hash", "totp_secret"}
    )

    for request, code in (
        (identity_pb2.LookupAccountRequest(account_id="acc_nope"), grpc.StatusCode.NOT_FOUND),
        (identity_pb2.LookupAccountRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (
            identity_pb2.LookupAccountRequest(account_id=account.id, email=account.email),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            operator.stub.LookupAccount(request, metadata=operator.metadata)
        assert caught.value.code() == code


def test_lock_ends_sign_in_and_revokes_tokens_then_unlock(
    platform: Platform, operator: Caller
) -> None:
    agency = caller(platform, CITIZEN_SCOPES)
    account = citizen(platform)
    tokens = citizen_tokens(platform, agency.agency.client_id, account.id)
    request = identity_pb2.LockAccountRequest(
        account_id=account.id, reason="reported stolen", idempotency_key=key()
    )
    locked = operator.stub.LockAccount(request, metadata=operator.metadata)
    assert locked.locked
    assert locked.locked_indefinitely
    assert operator.stub.LockAccount(request, metadata=operator.metadata) == locked  # replay

    info = agency.stub.IntrospectToken(
        identity_pb2.IntrospectTokenRequest(token=tokens.access_token), metadata=agency.metadata
    )
    assert not info.active
    assert platform.admin.accounts.by_email(account.email) is not None
    attempt = platform.admin.signin.password(account.email, "correct horse battery", _where())
    assert attempt.outcome is Outcome.LOCKED

    unlocked = operator.stub.UnlockAccount(
        identity_pb2.UnlockAccountRequest(account_id=account.id, idempotency_key=key()),
        metadata=operator.metadata,
    )
    assert not unlocked.locked
    assert not unlocked.HasField("locked_until")
    attempt = platform.admin.signin.password(account.email, "correct horse battery", _where())
    assert attempt.outcome is Outcome.OK

    events = operator.stub.ListAuditEvents(
        identity_pb2.ListAuditEventsRequest(
            account_id=account.id, types=["account.locked", "account.unlocked"]
        ),
        metadata=operator.metadata,
    ).events
    assert [e.type for e in events] == ["account.unlocked", "account.locked"]
    assert events[1].details["reason"] == "reported stolen"
    assert events[1].details["by"] == operator.agency.client_id
    assert int(events[1].details["revoked_tokens"]) >= 2  # type: ignore[arg-type]


def _where() -> Where:
    return Where(ip="127.0.0.1")


def test_lock_until_a_time(platform: Platform, operator: Caller) -> None:
    account = citizen(platform)
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    locked = operator.stub.LockAccount(
        identity_pb2.LockAccountRequest(
            account_id=account.id, lock_until=stamp(until), idempotency_key=key()
        ),
        metadata=operator.metadata,
    )
    assert locked.locked
    assert not locked.locked_indefinitely
    assert locked.locked_until.ToDatetime(tzinfo=UTC) == until


def test_bad_lock_requests_change_nothing(platform: Platform, operator: Caller) -> None:
    account = citizen(platform)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.LockAccount(
            identity_pb2.LockAccountRequest(
                account_id=account.id,
                lock_until=stamp(past),
                reason="x" * 201,
                idempotency_key=key(),
            ),
            metadata=operator.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(caught.value)) == {"lock_until", "reason"}
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.LockAccount(
            identity_pb2.LockAccountRequest(account_id=account.id), metadata=operator.metadata
        )
    assert set(violations(caught.value)) == {"idempotency_key"}
    with pytest.raises(grpc.RpcError) as caught:
        operator.stub.LockAccount(
            identity_pb2.LockAccountRequest(account_id="acc_nope", idempotency_key=key()),
            metadata=operator.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    still = operator.stub.LookupAccount(
        identity_pb2.LookupAccountRequest(account_id=account.id), metadata=operator.metadata
    )
    assert not still.locked


def test_audit_events_filter_and_paginate(platform: Platform, operator: Caller) -> None:
    account = citizen(platform)
    for _ in range(3):
        operator.stub.LockAccount(
            identity_pb2.LockAccountRequest(account_id=account.id, idempotency_key=key()),
            metadata=operator.metadata,
        )
        operator.stub.UnlockAccount(
            identity_pb2.UnlockAccountRequest(account_id=account.id, idempotency_key=key()),
            metadata=operator.metadata,
        )
    seen: list[identity_pb2.AuditEvent] = []
    token = ""
    while True:
        page = operator.stub.ListAuditEvents(
            identity_pb2.ListAuditEventsRequest(
                account_id=account.id, page_size=2, page_token=token
            ),
            metadata=operator.metadata,
        )
        assert len(page.events) <= 2
        seen.extend(page.events)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 7  # registered, then three locks and three unlocks
    assert len({e.id for e in seen}) == 7
    times = [e.time.ToDatetime() for e in seen]
    assert times == sorted(times, reverse=True)
    assert seen[-1].type == str(EventType.REGISTERED)

    later = seen[0].time.ToDatetime(tzinfo=UTC) + timedelta(seconds=1)
    none = operator.stub.ListAuditEvents(
        identity_pb2.ListAuditEventsRequest(account_id=account.id, start_time=stamp(later)),
        metadata=operator.metadata,
    )
    assert list(none.events) == []
    before = operator.stub.ListAuditEvents(
        identity_pb2.ListAuditEventsRequest(
            account_id=account.id, types=["account.registered"], end_time=stamp(later)
        ),
        metadata=operator.metadata,
    )
    assert [e.type for e in before.events] == ["account.registered"]


def test_bad_audit_queries_are_invalid_argument(operator: Caller) -> None:
    now = datetime.now(UTC)
    for request, fields in (
        (identity_pb2.ListAuditEventsRequest(types=["nope"]), {"types[0]"}),
        (identity_pb2.ListAuditEventsRequest(page_size=501), {"page_size"}),
        (identity_pb2.ListAuditEventsRequest(page_token="garbage"), {"page_token"}),
        (
            identity_pb2.ListAuditEventsRequest(start_time=stamp(now), end_time=stamp(now)),
            {"end_time"},
        ),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            operator.stub.ListAuditEvents(request, metadata=operator.metadata)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(violations(caught.value)) == fields


def test_account_and_audit_methods_need_their_scopes(platform: Platform) -> None:
    agencies_only = caller(platform, ["identity:agencies"])
    calls: list[tuple[Callable[..., Any], Message, str]] = [
        (
            agencies_only.stub.LookupAccount,
            identity_pb2.LookupAccountRequest(account_id="a"),
            "identity:accounts",
        ),
        (
            agencies_only.stub.LockAccount,
            identity_pb2.LockAccountRequest(account_id="a"),
            "identity:accounts",
        ),
        (
            agencies_only.stub.UnlockAccount,
            identity_pb2.UnlockAccountRequest(account_id="a"),
            "identity:accounts",
        ),
        (
            agencies_only.stub.ListAuditEvents,
            identity_pb2.ListAuditEventsRequest(),
            "identity:audit",
        ),
    ]
    for method, request, scope in calls:
        with pytest.raises(grpc.RpcError) as caught:
            method(request, metadata=agencies_only.metadata)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert scope in (caught.value.details() or "")
