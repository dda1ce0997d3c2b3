"""Token exchange (RFC 8693) at identity's token endpoint, over HTTP: a client
registered with identity:act_for_agencies (the agency console) gets a token for
another agency, with an act claim naming it, and payments serves that agency's
data to it and nothing else. On SQLite and PostgreSQL (the ``platform`` fixture)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import grpc
import httpx
import jwt
import pytest
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from gaap.payments.v1 import payments_pb2 as pb
from gaap.payments.v1 import payments_pb2_grpc as pb_grpc

from gaap_client import ClientSecret, GaapError, Targets
from services.console.adapters.agency_calls import ExchangeAgencyCalls
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.keys import KeyCache
from tests.support.dpop_proofs import Prover
from tests.support.platform import (
    ALL_AGENCY_SCOPES,
    ISSUER,
    TOKEN_ENDPOINT,
    Platform,
    SecretAgency,
    bearer,
    jwks_of,
)

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
AGENCY_TYPE = "urn:gaap:params:oauth:token-type:agency"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ACT = "identity:act_for_agencies"


@pytest.fixture(scope="module")
def console(platform: Platform) -> SecretAgency:
    return platform.secret_agency(scopes=[ACT, "identity:agencies", "notify:send"])


@pytest.fixture(scope="module")
def agency(platform: Platform) -> SecretAgency:
    return platform.secret_agency()


def exchange(
    platform: Platform,
    actor: SecretAgency,
    subject: str,
    scope: str | None = "payments:read",
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    data = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": AGENCY_TYPE}
    if scope is not None:
        data["scope"] = scope
    data.update(extra or {})
    return httpx.post(
        platform.token_url,
        data=data,
        auth=(actor.client_id, actor.client_secret),
        headers=headers or {},
    )


def verified(platform: Platform, token: str, audience: str = "urn:gaap:payments") -> Any:
    """The token checked as payments checks it: the principal and the claims."""
    keys = {k["kid"]: k for k in jwks_of(platform)["keys"]}
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token, jwt.PyJWK(keys[header["kid"]]), algorithms=["ES256"], audience=audience
    )
    return claims


def refused(response: httpx.Response, error: str, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error, body
    description: str = body.get("error_description", "")
    return description


def test_the_console_gets_a_token_for_the_agency_naming_itself_as_actor(
    platform: Platform, console: SecretAgency, agency: SecretAgency
) -> None:
    response = exchange(platform, console, agency.client_id, "payments:read payments:refund")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 300
    assert body["scope"] == "payments:read payments:refund"
    assert "refresh_token" not in body
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    claims = verified(platform, body["access_token"])
    assert claims["iss"] == ISSUER
    assert claims["sub"] == claims["client_id"] == agency.client_id
    assert claims["act"] == {"sub": console.client_id}
    assert claims["aud"] == ["urn:gaap:payments"]
    assert claims["gaap_mode"] == "test"
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert "cnf" not in claims


def test_requested_token_type_access_token_is_accepted(
    platform: Platform, console: SecretAgency, agency: SecretAgency
) -> None:
    response = exchange(
        platform, console, agency.client_id, extra={"requested_token_type": ACCESS_TOKEN_TYPE}
    )
    assert response.status_code == 200, response.text


def test_the_token_reads_the_agencys_payments_and_none_of_another_agencys(
    platform: Platform, console: SecretAgency
) -> None:
    a, b = platform.secret_agency(), platform.secret_agency()
    payments = pb_grpc.PaymentsServiceStub(platform.channel("payments"))
    mine = payments.CreatePayment(_payment("A-1"), metadata=bearer(platform.token(a)))
    theirs = payments.CreatePayment(_payment("B-1"), metadata=bearer(platform.token(b)))

    token = exchange(platform, console, a.client_id).json()["access_token"]
    listed = payments.ListPayments(pb.ListPaymentsRequest(), metadata=bearer(token))
    assert [p.id for p in listed.payments] == [mine.id]
    with pytest.raises(grpc.RpcError) as caught:
        payments.GetPayment(pb.GetPaymentRequest(payment_id=theirs.id), metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # The token carries only what was asked: payments:read, not payments:create.
    with pytest.raises(grpc.RpcError) as caught:
        payments.CreatePayment(_payment("A-2"), metadata=bearer(token))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    caller = caller_pb2_grpc.CallerServiceStub(platform.channel("payments"))
    who = caller.GetCallerIdentity(caller_pb2.GetCallerIdentityRequest(), metadata=bearer(token))
    assert who.client_id == a.client_id


def test_the_consoles_adapter_calls_payments_as_the_agency(
    platform: Platform, console: SecretAgency
) -> None:
    a, b = platform.secret_agency(), platform.secret_agency()
    payments = pb_grpc.PaymentsServiceStub(platform.channel("payments"))
    mine = payments.CreatePayment(_payment("A-1"), metadata=bearer(platform.token(a)))
    payments.CreatePayment(_payment("B-1"), metadata=bearer(platform.token(b)))
    targets = Targets(
        platform.identity.grpc_target, platform.payments.grpc_target, platform.notify.grpc_target
    )
    with httpx.Client() as http:
        calls = ExchangeAgencyCalls(
            platform.token_url,
            ClientSecret(console.client_id, console.client_secret),
            targets,
            http=http,
        )
        with calls.connect(a.client_id, ("payments:read",)) as agency:
            listed = agency.payments.ListPayments(pb.ListPaymentsRequest())
            assert [p.id for p in listed.payments] == [mine.id]
            with pytest.raises(GaapError) as refused:
                agency.payments.CreatePayment(_payment("A-2"))
            assert refused.value.status == grpc.StatusCode.PERMISSION_DENIED


def test_the_verifier_keeps_the_actor_in_the_principal(
    platform: Platform, console: SecretAgency, agency: SecretAgency
) -> None:
    verifier = AccessTokenVerifier(
        issuer=ISSUER,
        audience="urn:gaap:payments",
        keys=KeyCache(lambda: jwks_of(platform)),
    )
    delegated = exchange(platform, console, agency.client_id).json()["access_token"]
    principal = verifier.verify(delegated)
    assert principal.client_id == agency.client_id
    assert principal.actor == console.client_id
    own = platform.token(agency, "payments:read")
    assert verifier.verify(own).actor is None


def test_the_agency_introspecting_the_token_sees_who_acted_for_it(
    platform: Platform, console: SecretAgency, agency: SecretAgency
) -> None:
    token = exchange(platform, console, agency.client_id).json()["access_token"]
    answer = httpx.post(
        platform.identity.http_url + "/oauth2/introspect",
        data={"token": token},
        auth=(agency.client_id, agency.client_secret),
    ).json()
    assert answer["active"] is True
    assert (answer["client_id"], answer["act"]) == (agency.client_id, {"sub": console.client_id})
    # The console is not the token's client: to it, the token is inactive.
    to_console = httpx.post(
        platform.identity.http_url + "/oauth2/introspect",
        data={"token": token},
        auth=(console.client_id, console.client_secret),
    ).json()
    assert to_console == {"active": False}


def test_the_exchange_is_logged_with_client_ids_only(
    platform: Platform,
    console: SecretAgency,
    agency: SecretAgency,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="services.identity.service_layer.token_exchange"):
        token = exchange(platform, console, agency.client_id).json()["access_token"]
    [record] = [r for r in caplog.records if r.getMessage() == "acting for an agency"]
    assert (record.agency, record.actor) == (agency.client_id, console.client_id)  # type: ignore[attr-defined]
    logged = str(record.__dict__)
    assert token not in logged
    assert console.client_secret not in logged


def test_a_dpop_proof_binds_the_token_as_client_credentials_does(
    platform: Platform, console: SecretAgency, agency: SecretAgency
) -> None:
    prover = Prover()
    response = exchange(
        platform, console, agency.client_id, headers={"DPoP": prover.proof("POST", TOKEN_ENDPOINT)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert verified(platform, body["access_token"])["cnf"] == {"jkt": prover.jkt}


def test_an_invalid_proof_is_refused(
    platform: Platform, console: SecretAgency, agency: SecretAgency
) -> None:
    proof = Prover().proof("POST", "https://elsewhere.example/oauth2/token")
    response = exchange(platform, console, agency.client_id, headers={"DPoP": proof})
    refused(response, "invalid_dpop_proof")


def test_an_agency_whose_tokens_must_be_bound_gets_none_without_a_proof(
    platform: Platform, console: SecretAgency
) -> None:
    created = platform.admin.registry.create(
        name="Bound agency", scopes=list(ALL_AGENCY_SCOPES), dpop_bound_access_tokens=True
    )
    subject = created.agency.client_id
    refused(exchange(platform, console, subject), "invalid_dpop_proof")
    proof = Prover().proof("POST", TOKEN_ENDPOINT)
    assert exchange(platform, console, subject, headers={"DPoP": proof}).status_code == 200


def test_a_client_without_the_scope_is_unauthorized_client(
    platform: Platform, agency: SecretAgency
) -> None:
    other = platform.secret_agency()
    description = refused(exchange(platform, other, agency.client_id), "unauthorized_client")
    assert ACT in description


def test_a_public_client_cannot_exchange(platform: Platform, agency: SecretAgency) -> None:
    public = platform.admin.registry.create(
        name="Public app",
        scopes=["openid", ACT],
        redirect_uris=["https://app.example/callback"],
        public=True,
    )
    response = httpx.post(
        platform.token_url,
        data={
            "grant_type": EXCHANGE,
            "client_id": public.agency.client_id,
            "subject_token": agency.client_id,
            "subject_token_type": AGENCY_TYPE,
            "scope": "payments:read",
        },
    )
    description = refused(response, "invalid_client", 401)
    assert "cannot authenticate" in description


def test_a_wrong_secret_is_invalid_client(
    platform: Platform, console: SecretAgency, agency: SecretAgency
) -> None:
    impostor = SecretAgency(console.client_id, console.client_secret + "x")
    refused(exchange(platform, impostor, agency.client_id), "invalid_client", 401)


@pytest.mark.parametrize("subject", ["ag_doesnotexist", "", "x" * 65])
def test_an_unknown_subject_is_invalid_request(
    platform: Platform, console: SecretAgency, subject: str
) -> None:
    refused(exchange(platform, console, subject), "invalid_request")


def test_a_disabled_subject_is_invalid_request(platform: Platform, console: SecretAgency) -> None:
    gone = platform.secret_agency()
    assert exchange(platform, console, gone.client_id).status_code == 200
    platform.admin.registry.disable(gone.client_id)
    refused(exchange(platform, console, gone.client_id), "invalid_request")


def test_the_client_cannot_act_for_itself(platform: Platform, console: SecretAgency) -> None:
    refused(exchange(platform, console, console.client_id, "notify:send"), "invalid_request")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("subject_token_type", ""),
        ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
        ("actor_token", "anything"),
        ("actor_token_type", ACCESS_TOKEN_TYPE),
    ],
)
def test_other_token_types_and_actor_tokens_are_invalid_request(
    platform: Platform, console: SecretAgency, agency: SecretAgency, field: str, value: str
) -> None:
    refused(exchange(platform, console, agency.client_id, extra={field: value}), "invalid_request")


@pytest.mark.parametrize("field", ["audience", "resource"])
def test_audience_and_resource_are_invalid_target(
    platform: Platform, console: SecretAgency, agency: SecretAgency, field: str
) -> None:
    response = exchange(platform, console, agency.client_id, extra={field: "urn:gaap:payments"})
    refused(response, "invalid_target")


@pytest.mark.parametrize(
    "scope",
    [
        None,  # the scopes must be named
        "",
        "payments:all",  # unknown
        "openid",  # a citizen scope
    ],
)
def test_missing_or_unknown_scopes_are_invalid_scope(
    platform: Platform, console: SecretAgency, agency: SecretAgency, scope: str | None
) -> None:
    refused(exchange(platform, console, agency.client_id, scope), "invalid_scope")


def test_scopes_beyond_the_subjects_registration_are_invalid_scope(
    platform: Platform, console: SecretAgency
) -> None:
    reader = platform.secret_agency(scopes=["payments:read"])
    # The console holds notify:send itself; what counts is the subject's registration.
    refused(exchange(platform, console, reader.client_id, "notify:send"), "invalid_scope")
    refused(
        exchange(platform, console, reader.client_id, "payments:read payments:refund"),
        "invalid_scope",
    )


def test_operator_scopes_are_never_exchanged(platform: Platform, console: SecretAgency) -> None:
    operator = platform.secret_agency(scopes=["identity:agencies", "payments:read"])
    for scope in ("identity:agencies", "payments:read identity:agencies"):
        refused(exchange(platform, console, operator.client_id, scope), "invalid_scope")


def test_identity_scopes_are_never_exchanged_even_when_the_agency_holds_them(
    platform: Platform, console: SecretAgency
) -> None:
    # identity:tokens would let the console introspect and revoke the agency's
    # tokens and read its citizens' UserInfo: only payments and notify scopes pass.
    holder = platform.secret_agency(scopes=["identity:tokens", "payments:read"])
    for scope in ("identity:tokens", "payments:read identity:tokens"):
        description = refused(exchange(platform, console, holder.client_id, scope), "invalid_scope")
        assert description == "token exchange grants payments and notify scopes only"


def test_discovery_lists_the_grant(platform: Platform) -> None:
    document = httpx.get(platform.identity.http_url + "/.well-known/openid-configuration").json()
    assert EXCHANGE in document["grant_types_supported"]


def _payment(reference: str) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        amount=1050,
        reference=reference,
        description="Passport fee",
        return_url="https://agency.example/done",
        idempotency_key=uuid.uuid4().hex,
    )
