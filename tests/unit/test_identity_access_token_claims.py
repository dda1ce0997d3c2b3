"""What identity puts in an agency's access token, and which scopes it grants."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey
from jwt import PyJWK

from services.identity.domain.access_tokens import claims_for_agency, granted_scopes
from services.identity.domain.agencies import Agency, register
from services.identity.domain.signing_keys import generate
from services.identity.service_layer.jwt_minting import sign
from services.identity.service_layer.keys import Signer
from services.runtime.access_tokens import ACCESS_TOKEN_TYPE, AccessTokenVerifier, audience_for

ISSUER = "https://identity.gaap.test"


class OneKey:
    def __init__(self, jwk: PyJWK) -> None:
        self.jwk = jwk

    def get(self, kid: str) -> PyJWK | None:
        return self.jwk if kid == self.jwk.key_id else None


@pytest.fixture
def agency(now: datetime) -> Agency:
    return register(
        name="DVLA",
        scopes=["payments:create", "payments:read", "notify:send"],
        mode="live",
        now=now,
    ).agency


def test_claims(agency: Agency) -> None:
    claims = claims_for_agency(
        agency, ("payments:create", "notify:send"), issuer=ISSUER, now=1_700_000_000, ttl=300
    )
    assert claims["iss"] == ISSUER
    assert claims["sub"] == agency.client_id
    assert claims["client_id"] == agency.client_id
    assert claims["aud"] == [audience_for("notify"), audience_for("payments")]
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_300
    assert claims["scope"] == "payments:create notify:send"
    assert claims["gaap_mode"] == "live"
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16


@pytest.mark.parametrize(
    ("scopes", "audiences"),
    [
        (("payments:read",), ["urn:gaap:payments"]),
        (("payments:read", "payments:create"), ["urn:gaap:payments"]),
        (("notify:send", "notify:read"), ["urn:gaap:notify"]),
        (("notify:send", "payments:read"), ["urn:gaap:notify", "urn:gaap:payments"]),
        (("identity:agencies",), ["urn:gaap:identity"]),
        ((), []),
    ],
)
def test_audience_is_each_service_the_scopes_reach(
    agency: Agency, scopes: tuple[str, ...], audiences: list[str]
) -> None:
    claims = claims_for_agency(agency, scopes, issuer=ISSUER, now=0, ttl=60)
    assert claims["aud"] == audiences


def test_each_token_has_its_own_jti(agency: Agency) -> None:
    jtis = {
        claims_for_agency(agency, ("notify:send",), issuer=ISSUER, now=0, ttl=60)["jti"]
        for _ in range(50)
    }
    assert len(jtis) == 50


@pytest.mark.parametrize("requested", [None, ""])
def test_no_requested_scope_grants_all_of_the_agencys(
    agency: Agency, requested: str | None
) -> None:
    assert granted_scopes(agency, requested) == ("payments:create", "payments:read", "notify:send")


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        ("notify:send", ("notify:send",)),
        ("notify:send payments:read", ("notify:send", "payments:read")),
        ("notify:send  notify:send payments:read", ("notify:send", "payments:read")),
        ("payments:refund", ("payments:refund",)),  # checked against the agency elsewhere
    ],
)
def test_requested_scopes_are_granted_as_asked_once_each(
    agency: Agency, requested: str, granted: tuple[str, ...]
) -> None:
    assert granted_scopes(agency, requested) == granted


def test_identitys_token_passes_the_resource_servers_verifier(
    agency: Agency, now: datetime
) -> None:
    """The two halves agree: what identity issues, payments accepts."""
    key = generate("ES256", now)
    issued_at = int(time.time())
    scopes = granted_scopes(agency, "payments:create notify:send")
    claims = claims_for_agency(agency, scopes, issuer=ISSUER, now=issued_at, ttl=300)
    signer = Signer(
        key.kid,
        key.alg,
        load_pem_private_key(key.private_pem, password=None),
        ECKey.import_key(key.private_pem),
    )
    token = sign(signer, claims, ACCESS_TOKEN_TYPE)  # as identity's token endpoint signs
    verifier = AccessTokenVerifier(
        issuer=ISSUER, audience=audience_for("payments"), keys=OneKey(PyJWK(key.public_jwk))
    )
    principal = verifier.verify(token)
    assert principal.client_id == agency.client_id
    assert principal.mode == "live"
    assert principal.scopes == frozenset({"payments:create", "notify:send"})
    assert principal.expires_at == issued_at + 300
