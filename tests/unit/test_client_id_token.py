"""The relying party's checks, against an identity faked with httpx's
MockTransport: the authorization URL (state, nonce, S256 challenge), the code
exchange, and every way an ID token is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gaap_client import ClientSecret, OpenIdClient, SignInError

ISSUER = "https://identity.example"
CLIENT = "agency-1"
CALLBACK = "https://permits.example/callback"
NONCE = "n-0123456789"


def _jwk(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    algorithm: Any = (
        jwt.algorithms.ECAlgorithm
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else jwt.algorithms.RSAAlgorithm
    )
    public: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "use": "sig"}


class Identity:
    """Discovery, JWKS, token and UserInfo endpoints; counts JWKS fetches."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> None:
        self.key = key
        self.rsa_key = rsa_key
        self.jwks_fetches = 0
        self.token_requests: list[httpx.Request] = []
        self.token_answer: tuple[int, dict[str, Any]] | None = None

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "ec1", **header})

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        values: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "citizen-1",
            "aud": CLIENT,
            "iat": now,
            "exp": now + 300,
            "nonce": NONCE,
            "acr": "Cl.Cm",
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v is not None}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": ISSUER + "/authorize",
                    "token_endpoint": ISSUER + "/oauth2/token",
                    "jwks_uri": ISSUER + "/jwks",
                    "userinfo_endpoint": ISSUER + "/userinfo",
                },
            )
        if path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(
                200, json={"keys": [_jwk(self.key, "ec1"), _jwk(self.rsa_key, "rsa1")]}
            )
        if path == "/oauth2/token":
            self.token_requests.append(request)
            if self.token_answer is not None:
                return httpx.Response(self.token_answer[0], json=self.token_answer[1])
            access_token = "at_citizen"
            digest = hashlib.sha256(access_token.encode()).digest()[:16]
            at_hash = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            nonce = dict(parse_qsl(request.content.decode())).get("code", "")
            id_token = self.sign(self.claims(nonce=nonce, at_hash=at_hash))
            return httpx.Response(
                200,
                json={"access_token": access_token, "token_type": "Bearer", "id_token": id_token},
            )
        if path == "/userinfo":
            return httpx.Response(200, json={"sub": "citizen-1", "email": "ada@example.org"})
        return httpx.Response(404)


@pytest.fixture
def identity(
    ec_private_key: ec.EllipticCurvePrivateKey, rsa_private_key: rsa.RSAPrivateKey
) -> Identity:
    return Identity(ec_private_key, rsa_private_key)


def _client(identity: Identity, **options: Any) -> OpenIdClient:
    http = httpx.Client(transport=httpx.MockTransport(identity))
    return OpenIdClient(ISSUER, ClientSecret(CLIENT, "s3cret"), CALLBACK, http=http, **options)


def _refused(
    client: OpenIdClient, token: str, error: str = "invalid_id_token", **rules: Any
) -> SignInError:
    with pytest.raises(SignInError) as refused:
        client.validate_id_token(token, **{"nonce": NONCE, **rules})
    assert refused.value.error == error
    return refused.value


def test_a_good_token_passes(identity: Identity) -> None:
    client = _client(identity)
    claims = client.validate_id_token(
        identity.sign(identity.claims()), nonce=NONCE, acr_values=["Cl.Cm"]
    )
    assert claims["sub"] == "citizen-1"


def test_an_rs256_token_passes_with_the_rsa_key(identity: Identity) -> None:
    client = _client(identity)
    token = jwt.encode(
        identity.claims(), identity.rsa_key, algorithm="RS256", headers={"kid": "rsa1"}
    )
    assert client.validate_id_token(token, nonce=NONCE)["sub"] == "citizen-1"


def test_claims_that_are_wrong_are_refused(identity: Identity) -> None:
    client = _client(identity)
    now = int(time.time())
    cases = {
        "issuer": identity.claims(iss="https://evil.example"),
        "audience": identity.claims(aud="another-agency"),
        "nonce": identity.claims(nonce="someone-elses"),
        "expired": identity.claims(iat=now - 900, exp=now - 600),
        "future": identity.claims(iat=now + 600, exp=now + 900),
        "azp": identity.claims(aud=[CLIENT, "another-agency"]),
        "sub": identity.claims(sub=None),
    }
    descriptions = {
        name: _refused(client, identity.sign(claims)).description for name, claims in cases.items()
    }
    assert "issuer" in descriptions["issuer"]
    assert "audience" in descriptions["audience"]
    assert "nonce" in descriptions["nonce"]
    assert "expired" in descriptions["expired"]
    assert descriptions["future"] == "issued in the future"
    assert "azp" in descriptions["azp"]
    assert "sub" in descriptions["sub"]


def test_several_audiences_need_azp_naming_this_client(identity: Identity) -> None:
    client = _client(identity)
    claims = identity.claims(aud=[CLIENT, "another-agency"], azp=CLIENT)
    assert client.validate_id_token(identity.sign(claims), nonce=NONCE)
    wrong = identity.claims(aud=[CLIENT, "another-agency"], azp="another-agency")
    assert "azp" in _refused(client, identity.sign(wrong)).description


def test_a_token_without_a_nonce_does_not_pass_for_an_empty_one(identity: Identity) -> None:
    client = _client(identity)
    assert "nonce" in _refused(client, identity.sign(identity.claims()), nonce="").description


def test_at_hash_must_match_the_access_token(identity: Identity) -> None:
    client = _client(identity)
    token = identity.sign(identity.claims(at_hash="AAAAAAAAAAAAAAAAAAAAAA"))
    assert "at_hash" in _refused(client, token, access_token="at_citizen").description


def test_an_insufficient_acr_is_its_own_error(identity: Identity) -> None:
    client = _client(identity)
    token = identity.sign(identity.claims(acr="Cl"))
    _refused(client, token, "insufficient_acr", acr_values=["Cl.Cm"])


def test_unsigned_hmac_and_forged_tokens_are_refused(
    identity: Identity, other_rsa_private_key: rsa.RSAPrivateKey
) -> None:
    client = _client(identity)
    claims = identity.claims()
    unsigned = jwt.encode(claims, "", algorithm="none")
    assert "none" in _refused(client, unsigned).description
    hs256 = jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256")
    assert "HS256" in _refused(client, hs256).description
    other = ec.generate_private_key(ec.SECP256R1())
    wrong_key = jwt.encode(claims, other, algorithm="ES256", headers={"kid": "ec1"})
    assert "Signature" in _refused(client, wrong_key).description
    header, _, signature = identity.sign(claims).split(".")
    payload = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "x"}).encode())
    tampered = f"{header}.{payload.decode().rstrip('=')}.{signature}"
    assert "Signature" in _refused(client, tampered).description
    rsa_under_ec_kid = jwt.encode(
        claims, other_rsa_private_key, algorithm="RS256", headers={"kid": "ec1"}
    )
    assert "does not match the key" in _refused(client, rsa_under_ec_kid).description
    assert "not a JWT" in _refused(client, "not-a-token").description


def test_headers_pointing_at_outside_keys_are_refused(identity: Identity) -> None:
    client = _client(identity)
    for name in ("jku", "x5u", "jwk", "x5c"):
        token = identity.sign(identity.claims(), **{name: "https://evil.example/keys"})
        assert "outside keys" in _refused(client, token).description


def test_an_unknown_kid_refetches_the_keys_at_most_every_five_seconds(
    identity: Identity,
) -> None:
    client = _client(identity)
    client.validate_id_token(identity.sign(identity.claims()), nonce=NONCE)
    assert identity.jwks_fetches == 1
    forged = jwt.encode(identity.claims(), identity.key, algorithm="ES256", headers={"kid": "x"})
    for _ in range(3):
        assert "unknown key" in _refused(client, forged).description
    assert identity.jwks_fetches == 1  # fetched less than five seconds ago


def test_start_sends_state_nonce_and_an_s256_challenge(identity: Identity) -> None:
    client = _client(identity)
    pending = client.start(scope="openid email", acr_values=["Cl.Cm"], ui_locales=["cy"])
    url = urlsplit(pending.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == ISSUER + "/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": create_s256_code_challenge(pending.code_verifier),
        "code_challenge_method": "S256",
        "acr_values": "Cl.Cm",
        "ui_locales": "cy",
    }
    assert 43 <= len(pending.code_verifier) <= 128
    assert client.start().state != pending.state


def test_finish_exchanges_the_code_with_the_verifier_and_checks_the_token(
    identity: Identity,
) -> None:
    client = _client(identity)
    pending = client.start()
    # The fake puts the code into the token's nonce: use the sign-in's nonce as the code.
    params = {"state": pending.state, "code": pending.nonce, "iss": ISSUER}
    signed_in = client.finish(pending, params)
    assert signed_in.subject == "citizen-1"
    assert signed_in.access_token == "at_citizen"
    assert signed_in.profile["email"] == "ada@example.org"
    [request] = identity.token_requests
    basic = base64.b64encode(f"{CLIENT}:s3cret".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"
    assert dict(parse_qsl(request.content.decode())) == {
        "grant_type": "authorization_code",
        "code": pending.nonce,
        "redirect_uri": CALLBACK,
        "code_verifier": pending.code_verifier,
    }


def test_finish_refuses_a_wrong_callback_before_spending_the_code(identity: Identity) -> None:
    client = _client(identity)
    pending = client.start()
    for params, error in (
        ({"state": "forged", "code": "c"}, "invalid_state"),
        ({"state": pending.state, "code": "c", "iss": "https://evil"}, "invalid_issuer"),
        ({"state": pending.state, "error": "access_denied"}, "access_denied"),
        ({"state": pending.state}, "invalid_request"),
    ):
        with pytest.raises(SignInError) as refused:
            client.finish(pending, params)
        assert refused.value.error == error
    assert identity.token_requests == []


def test_a_refused_code_is_a_sign_in_error_with_identitys_code(identity: Identity) -> None:
    client = _client(identity)
    identity.token_answer = (400, {"error": "invalid_grant", "error_description": "code used"})
    pending = client.start()
    with pytest.raises(SignInError) as refused:
        client.finish(pending, {"state": pending.state, "code": "spent"})
    assert (refused.value.error, refused.value.description) == ("invalid_grant", "code used")
