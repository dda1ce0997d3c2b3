"""The client library against the real services: tokens (secret and
private_key_jwt) cached and renewed, generated idempotency keys, typed errors
with field violations, deadlines."""

from __future__ import annotations

import grpc
import pytest
from gaap.common.v1 import caller_pb2
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client import ClientSecret, GaapClient, PrivateKeyJwt, Targets, TokenError, TokenSource
from gaap_client.errors import (
    AlreadyExists,
    GaapError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from tests.support.platform import Platform

RETURN_URL = "http://127.0.0.1:9/done"


def _targets(platform: Platform) -> Targets:
    return Targets(
        platform.identity.grpc_target, platform.payments.grpc_target, platform.notify.grpc_target
    )


def _client(platform: Platform, scopes: tuple[str, ...] = ()) -> GaapClient:
    agency = platform.secret_agency()
    tokens = TokenSource(
        platform.token_url, ClientSecret(agency.client_id, agency.client_secret), scopes=scopes
    )
    return GaapClient(tokens, _targets(platform))


def _payment(**fields: object) -> ppb.CreatePaymentRequest:
    values: dict[str, object] = {
        "amount": 1250,
        "reference": "REF-1",
        "description": "Permit",
        "return_url": RETURN_URL,
    }
    values.update(fields)
    return ppb.CreatePaymentRequest(**values)  # type: ignore[arg-type]


def test_a_secret_agency_calls_every_service_with_one_cached_token(platform: Platform) -> None:
    with _client(platform) as client:
        for target in (platform.payments.grpc_target, platform.notify.grpc_target):
            me = client.caller(target).GetCallerIdentity(caller_pb2.GetCallerIdentityRequest())
            assert me.client_id == client.tokens.credentials.client_id
        assert client.tokens.issued == 1


def test_a_key_agency_gets_tokens_with_private_key_jwt(platform: Platform) -> None:
    agency = platform.key_agency()
    credentials = PrivateKeyJwt(agency.client_id, agency.private_key, agency.kid)
    with GaapClient(TokenSource(platform.token_url, credentials), _targets(platform)) as client:
        me = client.caller(platform.payments.grpc_target).GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest()
        )
        assert me.client_id == agency.client_id


def test_tokens_are_renewed_before_they_expire(platform: Platform) -> None:
    agency = platform.secret_agency()
    now = [1000.0]
    tokens = TokenSource(
        platform.token_url,
        ClientSecret(agency.client_id, agency.client_secret),
        renew_before=60,
        clock=lambda: now[0],
    )
    first = tokens.token()
    now[0] += 300 - 61  # identity's tokens live 300 s; still more than a minute left
    assert tokens.token() == first
    now[0] += 2  # within the last minute: a new one
    assert tokens.token() != first
    assert tokens.issued == 2


def test_a_wrong_secret_is_a_token_error(platform: Platform) -> None:
    agency = platform.secret_agency()
    tokens = TokenSource(platform.token_url, ClientSecret(agency.client_id, "wrong"))
    with pytest.raises(TokenError) as refused:
        tokens.token()
    assert refused.value.error == "invalid_client"


def test_an_idempotency_key_is_generated_once_per_call(platform: Platform) -> None:
    with _client(platform) as client:
        first = client.payments.CreatePayment(_payment())
        second = client.payments.CreatePayment(_payment())
        assert first.id != second.id  # two calls, two keys
        keyed = client.payments.CreatePayment(_payment(idempotency_key="mine"))
        again = client.payments.CreatePayment(_payment(idempotency_key="mine"))
        assert keyed.id == again.id  # the caller's key is kept
        with pytest.raises(AlreadyExists):
            client.payments.CreatePayment(_payment(idempotency_key="mine", amount=99))


def test_bad_input_raises_invalid_argument_with_field_violations(platform: Platform) -> None:
    with _client(platform) as client:
        with pytest.raises(InvalidArgument) as bad:
            client.payments.CreatePayment(_payment(amount=0, return_url="ftp://x"))
        fields = {v.field for v in bad.value.field_violations}
        assert {"amount", "return_url"} <= fields
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # still an RpcError
        assert isinstance(bad.value, grpc.RpcError)
        assert bad.value.request_id


def test_not_found_and_permission_denied_are_typed(platform: Platform) -> None:
    with _client(platform, scopes=("notify:send", "payments:refund")) as client:
        with pytest.raises(PermissionDenied):
            client.payments.GetPayment(ppb.GetPaymentRequest(payment_id="pay_nope"))
        with pytest.raises(NotFound):
            client.notify.GetNotification(npb.GetNotificationRequest(notification_id="ntf_nope"))


def test_every_call_has_a_deadline(platform: Platform) -> None:
    agency = platform.secret_agency()
    tokens = TokenSource(platform.token_url, ClientSecret(agency.client_id, agency.client_secret))
    with GaapClient(tokens, _targets(platform), timeout=0.000001) as client:
        with pytest.raises(GaapError) as late:
            client.payments.GetPayment(ppb.GetPaymentRequest(payment_id="pay_x"))
        assert late.value.status == grpc.StatusCode.DEADLINE_EXCEEDED


def test_a_rejected_token_is_renewed_once_then_reported(platform: Platform) -> None:
    agency = platform.secret_agency()

    class Forged(TokenSource):
        def token(self) -> str:
            self.issued += 1
            return "not-a-token"

    tokens = Forged(platform.token_url, ClientSecret(agency.client_id, agency.client_secret))
    with GaapClient(tokens, _targets(platform)) as client, pytest.raises(Unauthenticated):
        client.payments.GetPayment(ppb.GetPaymentRequest(payment_id="pay_x"))
    assert tokens.issued == 2
