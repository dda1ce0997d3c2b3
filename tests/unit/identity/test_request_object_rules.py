"""Signed request objects (RFC 9101, services/identity/domain/request_objects.py),
verified with real ES256, PS256 and RS256 keys made here: each refusal's
description, that every refusal is invalid_request_object shown and never
redirected, and what a valid one yields."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc.jwk import ECKey, OctKey, RSAKey

from services.identity.domain import request_objects
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationError
from tests.support.request_objects import sign_jws

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
ISSUER = "https://id.gaap.example"
CLIENT = "ag_signed"
CALLBACK = "https://rp.example.gov/callback"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

EC = ECKey.generate_key("P-256", parameters={"kid": "ec1"})
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa1"})
RSA_RS256 = RSAKey.generate_key(2048, parameters={"kid": "rs1", "alg": "RS256"})
OTHER_EC = ECKey.generate_key("P-256", parameters={"kid": "ec1"})  # another agency's, same kid


def public(*keys: ECKey | RSAKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def agency(*keys: ECKey | RSAKey, **changes: Any) -> Agency:
    made = Agency(
        client_id=CLIENT,
        name="Signed agency",
        mode="test",
        scopes=("openid", "email"),
        redirect_uris=(CALLBACK,),
        auth_methods=("private_key_jwt",),
        secret_hash=None,
        jwks=public(*(keys or (EC, RSA))),
        created_at=NOW,
    )
    return replace(made, **changes)


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": CLIENT,
        "aud": ISSUER,
        "client_id": CLIENT,
        "exp": T + 300,
        "nbf": T - 10,
        "iat": T - 10,
        "jti": "ro-1",
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    body: dict[str, Any] | bytes,
    key: ECKey | RSAKey | OctKey = EC,
    alg: str = "ES256",
    **header: Any,
) -> str:
    protected = {"alg": alg, "typ": "oauth-authz-req+jwt", **header}
    if isinstance(key, ECKey | RSAKey) and key.kid and "kid" not in header:
        protected["kid"] = key.kid
    return sign_jws(body, key, protected)


def verify(token: str, client: Agency | None = None, client_id: str = CLIENT) -> Any:
    return request_objects.verify(token, client_id, client or agency(), ISSUER, NOW)


def refused(token: str, client: Agency | None = None, client_id: str = CLIENT) -> str:
    with pytest.raises(AuthorizationError) as caught:
        verify(token, client, client_id)
    error = caught.value
    assert (error.error, error.redirectable) == ("invalid_request_object", False)
    return error.description


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# -- what a valid request object yields ------------------------------------------------


def test_an_es256_request_object_s_claims_are_the_request_parameters() -> None:
    found = verify(sign(claims(max_age=300, claims={"userinfo": {"email": None}})))
    assert found.params == {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "max_age": "300",
        "claims": '{"userinfo": {"email": null}}',
    }
    assert found.jti == "ro-1"
    assert found.expires_at == NOW + timedelta(seconds=300 + 30)


def test_a_ps256_request_object_is_accepted_and_an_aud_list_may_name_the_issuer() -> None:
    found = verify(sign(claims(aud=["https://other.example", ISSUER]), RSA, "PS256"))
    assert found.params["state"] == "s1"


@pytest.mark.parametrize("typ", [None, "oauth-authz-req+jwt", "application/oauth-authz-req+JWT"])
def test_typ_may_be_absent_or_the_request_object_type(typ: str | None) -> None:
    assert verify(sign(claims(), typ=typ)).params["state"] == "s1"


def test_without_a_kid_the_agency_s_keys_of_the_algorithm_s_type_are_tried() -> None:
    two = agency(ECKey.generate_key("P-256"), EC)
    assert verify(sign(claims(), EC, kid=None), two).params["state"] == "s1"


def test_the_parameters_sent_beside_it_are_ignored() -> None:
    params = {"client_id": CLIENT, "request": sign(claims()), "state": "outside", "scope": "x"}
    effective, found = request_objects.unpack(params, agency(), ISSUER, NOW)
    assert (effective["state"], effective["scope"]) == ("s1", "openid email")
    assert found is not None
    assert "request" not in effective


def test_without_a_request_object_the_parameters_are_the_request() -> None:
    params = {"client_id": CLIENT, "state": "plain"}
    assert request_objects.unpack(params, agency(), ISSUER, NOW) == (params, None)


def test_the_jti_is_recorded_hashed_under_a_prefix_of_its_own() -> None:
    found = verify(sign(claims(jti="x" * 255)))
    assert found.ledger_jti is not None
    assert found.ledger_jti.startswith("request-object:")
    assert len(found.ledger_jti) == len("request-object:") + 64
    assert verify(sign(claims(jti=None))).ledger_jti is None


# -- the signature: algorithms and keys --------------------------------------------------


def test_alg_none_is_refused() -> None:
    unsigned = b64({"alg": "none"}) + "." + b64(claims()) + "."
    assert refused(unsigned) == "the request object must be signed: alg 'none' is not accepted"


def test_an_hs256_request_object_is_refused_even_keyed_with_a_public_key() -> None:
    secret = OctKey.import_key(json.dumps(EC.as_dict(private=False)).encode())
    token = sign(claims(), secret, "HS256", kid="ec1")
    assert refused(token) == (
        "alg 'HS256' is not accepted for request objects (use ES256, PS256, RS256)"
    )


def test_rs256_needs_a_standard_agency_with_a_key_registered_for_rs256() -> None:
    token = sign(claims(), RSA_RS256, "RS256")
    assert verify(token, agency(RSA_RS256)).params["state"] == "s1"
    assert refused(token, agency(RSA_RS256, profile="fapi2")) == (
        "alg 'RS256' is not accepted for request objects (use ES256, PS256)"
    )
    unlabelled = sign(claims(), RSA, "RS256")
    assert refused(unlabelled, agency(RSA)) == (
        "the client has no registered key with kid 'rsa1' for alg RS256"
    )


def test_a_key_registered_for_another_algorithm_or_for_encryption_is_not_used() -> None:
    unlabelled = {k: v for k, v in RSA_RS256.as_dict(private=True).items() if k != "alg"}
    same_key = RSAKey.import_key(unlabelled)
    assert refused(sign(claims(), same_key, "PS256"), agency(RSA_RS256)) == (
        "the client has no registered key with kid 'rs1' for alg PS256"
    )
    enc = ECKey.import_key(EC.as_dict(private=False), parameters={"use": "enc"})
    only_enc = agency(jwks={"keys": [enc.as_dict(private=False)]})
    assert refused(sign(claims()), only_enc) == (
        "the client has no registered key with kid 'ec1' for alg ES256"
    )


def test_an_unknown_kid_is_refused() -> None:
    assert refused(sign(claims(), kid="nobody")) == (
        "the client has no registered key with kid 'nobody' for alg ES256"
    )


def test_a_request_object_signed_by_another_agency_s_key_is_refused() -> None:
    assert refused(sign(claims(), OTHER_EC)) == (
        "the request object's signature does not verify with the client's keys"
    )
    assert refused(sign(claims(), OTHER_EC, kid=None)) == (
        "the request object's signature does not verify with the client's keys"
    )


def test_an_agency_without_usable_registered_keys_cannot_sign_requests() -> None:
    unreadable: list[dict[str, Any] | None] = [
        None,
        {"keys": []},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]},
    ]
    for jwks in unreadable:
        assert refused(sign(claims()), agency(jwks=jwks)) == (
            "the client has no registered key with kid 'ec1' for alg ES256"
        )


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d.e", "!!.??.xx", "x" * 20_000],
)
def test_what_is_not_a_compact_jws_is_refused(token: str) -> None:
    assert refused(token) in (
        "request must be a signed JWT (JWS compact serialization)",
        "request is not a valid signed JWT",
    )


def test_a_request_object_over_16_kib_is_refused_unread() -> None:
    assert len(sign(claims(state="s" * 11_000))) <= request_objects.MAX_SIZE
    assert refused(sign(claims(state="s" * 12_500))) == (
        "request must be a signed JWT (JWS compact serialization)"
    )


def test_a_wrong_typ_and_a_critical_header_are_refused() -> None:
    assert refused(sign(claims(), typ="JWT")) == "typ must be 'oauth-authz-req+jwt'"
    assert refused(sign(claims(), typ="dpop+jwt")) == "typ must be 'oauth-authz-req+jwt'"
    token = sign(claims(), crit=["b64"], b64=True)
    assert refused(token) == "no critical header parameter (crit) is supported"


def test_a_payload_that_is_not_a_json_object_is_refused() -> None:
    assert refused(sign(b"[1, 2]")) == "the request object's payload is not a JSON object"
    assert refused(sign(b"not json")) == "the request object's payload is not JSON"


# -- the claims --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"iss": "ag_other"}, "iss must be the client_id"),
        ({"iss": None}, "iss must be the client_id"),
        ({"aud": "https://elsewhere.example"}, f"aud must be the issuer ({ISSUER})"),
        ({"aud": [ISSUER + "/token"]}, f"aud must be the issuer ({ISSUER})"),
        ({"aud": None}, f"aud must be the issuer ({ISSUER})"),
        (
            {"client_id": "ag_other"},
            "client_id in the request object must equal the client_id parameter",
        ),
        (
            {"client_id": None},
            "client_id in the request object must equal the client_id parameter",
        ),
        ({"request": "eyJ.e30.x"}, "a request object cannot contain request or request_uri"),
        (
            {"request_uri": "urn:ietf:params:oauth:request_uri:x"},
            "a request object cannot contain request or request_uri",
        ),
        ({"exp": None}, "exp is required"),
        ({"exp": "soon"}, "exp must be a number of seconds since the epoch"),
        ({"exp": True}, "exp must be a number of seconds since the epoch"),
        ({"exp": T - 31, "nbf": T - 600, "iat": T - 600}, "the request object has expired"),
        (
            {"nbf": T + 31},
            "the request object is not valid yet (nbf is in the future)",
        ),
        ({"iat": T + 31, "nbf": None}, "iat is in the future"),
        (
            {"nbf": T - 10, "exp": T - 10 + 3601},
            "the request object is valid for more than 60 minutes (exp - nbf)",
        ),
        (
            {"nbf": None, "iat": T - 10, "exp": T - 10 + 3601},
            "the request object is valid for more than 60 minutes (exp - nbf)",
        ),
        (
            {"nbf": None, "iat": None, "exp": T + 3601},
            "the request object is valid for more than 60 minutes (exp - nbf)",
        ),
        ({"jti": ""}, "jti must be a string of 1 to 255 characters"),
        ({"jti": "x" * 256}, "jti must be a string of 1 to 255 characters"),
        ({"jti": 7}, "jti must be a string of 1 to 255 characters"),
        ({"scope": ["openid"]}, "scope in the request object must be a string"),
        ({"max_age": True}, "max_age in the request object must be a string"),
    ],
)
def test_a_claim_out_of_rule_is_refused(changes: dict[str, Any], description: str) -> None:
    assert refused(sign(claims(**changes))) == description


def test_the_outer_client_id_must_be_the_one_inside() -> None:
    assert refused(sign(claims()), client_id="ag_other") == (
        "client_id in the request object must equal the client_id parameter"
    )


def test_the_lifetime_and_clock_edges_are_accepted() -> None:
    assert verify(sign(claims(nbf=T - 10, exp=T - 10 + 3600)))
    assert verify(sign(claims(exp=T - 29, nbf=T - 600, iat=T - 600)))
    assert verify(sign(claims(nbf=T + 30, iat=T + 30, exp=T + 600)))
    assert verify(sign(claims(nbf=None, iat=None, exp=T + 3600)))


# -- an agency that must sign its requests ----------------------------------------------


def test_a_request_without_request_object_is_refused_back_to_a_registered_uri() -> None:
    strict = agency(require_signed_request_object=True)
    with pytest.raises(AuthorizationError) as caught:
        request_objects.unpack({"client_id": CLIENT, "redirect_uri": CALLBACK}, strict, ISSUER, NOW)
    error = caught.value
    assert (error.error, error.description, error.redirectable) == (
        "invalid_request",
        "signed request object required",
        True,
    )
    with pytest.raises(AuthorizationError) as caught:
        request_objects.unpack(
            {"client_id": CLIENT, "redirect_uri": "https://evil.example/cb"}, strict, ISSUER, NOW
        )
    assert caught.value.redirectable is False
    effective, found = request_objects.unpack(
        {"client_id": CLIENT, "request": sign(claims())}, strict, ISSUER, NOW
    )
    assert found is not None
    assert effective["state"] == "s1"
