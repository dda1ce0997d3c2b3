"""The FAPI 2.0 sign-in of ``OpenIdClient(..., fapi2=True)`` and DPoP nonce
retries, against an identity faked with httpx's MockTransport that checks what
the real one checks: the pushed request (private_key_jwt with ``aud`` the issuer,
``dpop_jkt``, ``response_mode=query``), a valid DPoP proof for each endpoint by
the key the code was bound to, ``ath`` at UserInfo, and, when asked to, server
nonces (400 ``use_dpop_nonce`` from the token endpoint, 401 from UserInfo)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gaap_client import (
    ClientSecret,
    GaapClient,
    OpenIdClient,
    PendingSignIn,
    PrivateKeyJwt,
    SignInError,
)
from gaap_client.dpop import DpopKey, DpopNonces, origin
from gaap_client.dpop_http import DpopAuth
from gaap_client.tokens import TokenSource

ISSUER = "https://identity.example"
TOKEN = ISSUER + "/oauth2/token"
CLIENT = "agency-1"
CALLBACK = "https://permits.example/callback"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class Identity:
    """Discovery, JWKS, PAR, token, UserInfo and revocation, FAPI 2.0 style."""

    def __init__(self, agency_key: ec.EllipticCurvePrivateKey) -> None:
        self.agency_public = agency_key.public_key()
        self.signing = ec.generate_private_key(ec.SECP256R1())
        self.require_nonce = False
        self.nonce = "n-1"
        self.pushed: dict[str, dict[str, str]] = {}
        self.assertions: list[dict[str, Any]] = []
        self.proofs: list[dict[str, Any]] = []  # every proof seen, valid or not
        self.refusals: list[str] = []
        self.token_type = "DPoP"
        self.revoked: list[str] = []
        self.nonce_moves = False  # a new nonce with every refusal: never satisfied

    # -- checks ---------------------------------------------------------------------

    def _client(self, form: dict[str, str]) -> None:
        assert form["client_assertion_type"].endswith("jwt-bearer")
        claims = jwt.decode(
            form["client_assertion"], self.agency_public, algorithms=["ES256"], audience=ISSUER
        )
        self.assertions.append(claims)

    def _proof(self, request: httpx.Request, access_token: str | None = None) -> str | None:
        """The thumbprint of a valid proof's key, or ``None`` (a nonce is wanted)."""
        proof = request.headers["dpop"]
        header = jwt.get_unverified_header(proof)
        assert header["typ"] == "dpop+jwt"
        assert header["alg"] == "ES256"
        key = jwt.PyJWK(header["jwk"]).key
        claims = jwt.decode(proof, key, algorithms=["ES256"])
        self.proofs.append(claims)
        assert claims["htm"] == request.method
        assert claims["htu"] == str(request.url.copy_with(query=None))
        assert abs(claims["iat"] - time.time()) < 60
        if access_token is not None:
            assert claims["ath"] == _b64(hashlib.sha256(access_token.encode()).digest())
        else:
            assert "ath" not in claims
        if self.require_nonce and (self.nonce_moves or claims.get("nonce") != self.nonce):
            return None
        jwk = {k: header["jwk"][k] for k in ("crv", "kty", "x", "y")}
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
        return _b64(hashlib.sha256(canonical).digest())

    def _use_nonce(self, status: int) -> httpx.Response:
        self.refusals.append(str(status))
        if self.nonce_moves:
            self.nonce += "x"
        headers = {"DPoP-Nonce": self.nonce}
        if status == 401:  # after another scheme's challenge, as RFC 9449 §7.1 allows
            headers["WWW-Authenticate"] = 'Bearer realm="userinfo", DPoP error="use_dpop_nonce"'
            return httpx.Response(401, headers=headers)
        return httpx.Response(400, headers=headers, json={"error": "use_dpop_nonce"})

    # -- endpoints ------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        form = dict(parse_qsl(request.content.decode())) if request.method == "POST" else {}
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": ISSUER + "/authorize",
                    "pushed_authorization_request_endpoint": ISSUER + "/par",
                    "token_endpoint": TOKEN,
                    "revocation_endpoint": ISSUER + "/oauth2/revoke",
                    "jwks_uri": ISSUER + "/jwks",
                    "userinfo_endpoint": ISSUER + "/userinfo",
                },
            )
        if path == "/jwks":
            public: dict[str, Any] = json.loads(
                jwt.algorithms.ECAlgorithm.to_jwk(self.signing.public_key())
            )
            return httpx.Response(200, json={"keys": [{**public, "kid": "k1", "alg": "ES256"}]})
        if path == "/par":
            self._client(form)
            assert "dpop" not in request.headers  # dpop_jkt binds the code instead
            uri = f"urn:ietf:params:oauth:request_uri:{len(self.pushed)}"
            self.pushed[uri] = form
            return httpx.Response(201, json={"request_uri": uri, "expires_in": 60})
        if path == "/oauth2/token":
            jkt = self._proof(request)
            if jkt is None:
                return self._use_nonce(400)
            self._client(form)
            return self._token(form, jkt)
        if path == "/userinfo":
            scheme, _, token = request.headers["authorization"].partition(" ")
            assert scheme == "DPoP"
            if self._proof(request, token) is None:
                return self._use_nonce(401)
            return httpx.Response(200, json={"sub": "citizen-1", "email": "a@example.com"})
        if path == "/oauth2/revoke":
            if self._proof(request) is None:
                return self._use_nonce(400)
            self._client(form)
            self.revoked.append(form["token"])
            return httpx.Response(200)
        return httpx.Response(404)

    def _token(self, form: dict[str, str], jkt: str) -> httpx.Response:
        if form["grant_type"] == "refresh_token":
            return httpx.Response(
                200,
                json={
                    "access_token": f"at-{jkt}-2",
                    "token_type": self.token_type,
                    "expires_in": 300,
                    "refresh_token": "rt-2",
                },
            )
        pushed = self.pushed[form["code"]]
        assert pushed["dpop_jkt"] == jkt  # the code is bound to the pushed key
        access_token = f"at-{jkt}"
        digest = hashlib.sha256(access_token.encode()).digest()
        now = int(time.time())
        id_token = jwt.encode(
            {
                "iss": ISSUER,
                "sub": "citizen-1",
                "aud": CLIENT,
                "iat": now,
                "exp": now + 300,
                "nonce": pushed["nonce"],
                "acr": "Cl.Cm",
                "at_hash": _b64(digest[:16]),
            },
            self.signing,
            algorithm="ES256",
            headers={"kid": "k1"},
        )
        body = {
            "access_token": access_token,
            "token_type": self.token_type,
            "expires_in": 300,
            "id_token": id_token,
            "refresh_token": "rt-1",
        }
        return httpx.Response(200, json=body)


@pytest.fixture
def agency_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def identity(agency_key: ec.EllipticCurvePrivateKey) -> Identity:
    return Identity(agency_key)


def _client(identity: Identity, agency_key: ec.EllipticCurvePrivateKey, **options: Any) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(identity))
    credentials = PrivateKeyJwt(CLIENT, agency_key, kid="a1")
    return OpenIdClient(ISSUER, credentials, CALLBACK, http=http, fapi2=True, **options)


def _callback(pending: PendingSignIn) -> dict[str, str]:
    """What identity's redirect would carry: the pushed request's uri is the code."""
    request_uri = dict(parse_qsl(urlsplit(pending.url).query))["request_uri"]
    return {"code": request_uri, "state": pending.state, "iss": ISSUER}


def test_the_request_is_pushed_and_the_browser_gets_only_client_id_and_request_uri(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    client = _client(identity, agency_key)
    pending = client.start(scope="openid email")
    url = urlsplit(pending.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == ISSUER + "/authorize"
    query = dict(parse_qsl(url.query))
    assert set(query) == {"client_id", "request_uri"}
    [pushed] = identity.pushed.values()
    assert pushed["dpop_jkt"] == client.dpop_key.thumbprint == pending.dpop_jkt
    assert pushed["response_mode"] == "query"
    assert pushed["code_challenge_method"] == "S256"
    assert pushed["state"] == pending.state
    assert pushed["nonce"] == pending.nonce
    assert pushed["redirect_uri"] == CALLBACK
    assert "code_verifier" not in pushed
    # FAPI 2.0: the assertion's audience is the issuer, not the PAR endpoint.
    [assertion] = identity.assertions
    assert assertion["aud"] == ISSUER


def test_the_code_exchange_and_userinfo_prove_the_key_the_code_is_bound_to(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    client = _client(identity, agency_key)
    pending = client.start()
    signed_in = client.finish(pending, _callback(pending))
    assert signed_in.token_type == "DPoP"
    assert signed_in.profile["email"] == "a@example.com"
    token_proof, userinfo_proof = identity.proofs
    assert token_proof["htu"] == TOKEN
    assert "ath" not in token_proof
    assert userinfo_proof["htm"] == "GET"
    assert userinfo_proof["htu"] == ISSUER + "/userinfo"
    assert token_proof["jti"] != userinfo_proof["jti"]
    assert [a["aud"] for a in identity.assertions] == [ISSUER, ISSUER]


def test_refresh_and_revocation_carry_a_proof_and_a_private_key_jwt(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    client = _client(identity, agency_key)
    refreshed = client.refresh("rt-1")
    assert refreshed.token_type == "DPoP"
    assert refreshed.refresh_token == "rt-2"
    assert refreshed.access_token == f"at-{client.dpop_key.thumbprint}-2"
    client.revoke("rt-2")
    assert identity.revoked == ["rt-2"]
    assert [p["htu"] for p in identity.proofs] == [TOKEN, ISSUER + "/oauth2/revoke"]
    assert [a["aud"] for a in identity.assertions] == [ISSUER, ISSUER]


def test_a_nonce_is_asked_for_once_per_server_then_sent_with_every_proof(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    identity.require_nonce = True
    client = _client(identity, agency_key)
    pending = client.start()
    client.finish(pending, _callback(pending))
    # The token endpoint asked (400), and the retry carried the nonce; UserInfo,
    # on the same server, got it the first time.
    assert identity.refusals == ["400"]
    assert [p.get("nonce") for p in identity.proofs] == [None, "n-1", "n-1"]
    # The retry had a new proof and a new assertion (a jti is accepted once).
    assert identity.proofs[0]["jti"] != identity.proofs[1]["jti"]
    assert client.nonces.get(ISSUER) == "n-1"
    identity.nonce = "n-2"  # the server moves on: one more refusal, one retry
    client.userinfo(f"at-{client.dpop_key.thumbprint}", "citizen-1")
    assert identity.refusals == ["400", "401"]
    assert [p.get("nonce") for p in identity.proofs[-2:]] == ["n-1", "n-2"]


def test_a_server_that_keeps_asking_for_a_nonce_is_tried_only_twice(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    identity.require_nonce = identity.nonce_moves = True
    client = _client(identity, agency_key)
    with pytest.raises(SignInError) as refused:
        client.refresh("rt-1")
    assert refused.value.error == "use_dpop_nonce"
    assert len(identity.proofs) == 2


def test_a_bearer_token_is_refused_when_a_dpop_key_asked(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    identity.token_type = "Bearer"
    client = _client(identity, agency_key)
    pending = client.start()
    with pytest.raises(SignInError) as refused:
        client.finish(pending, _callback(pending))
    assert refused.value.error == "invalid_token_response"
    assert "not bound" in refused.value.description


def test_a_callback_without_iss_is_refused_before_the_code_is_used(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    client = _client(identity, agency_key)
    pending = client.start()
    params = _callback(pending)
    del params["iss"]
    with pytest.raises(SignInError) as refused:
        client.finish(pending, params)
    assert refused.value.error == "invalid_issuer"
    assert identity.proofs == []


def test_a_sign_in_started_with_another_key_is_refused_before_the_code_is_used(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    started = _client(identity, agency_key).start()  # e.g. before a restart
    restarted = _client(identity, agency_key)
    stored = PendingSignIn.from_dict(json.loads(json.dumps(started.to_dict())))
    with pytest.raises(SignInError) as refused:
        restarted.finish(stored, _callback(stored))
    assert refused.value.error == "invalid_dpop_key"
    assert identity.proofs == []


def test_a_configured_key_is_shared_by_replicas(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    pem = DpopKey.generate().to_pem()
    one = _client(identity, agency_key, dpop_key=DpopKey.from_pem(pem))
    two = _client(identity, agency_key, dpop_key=DpopKey.from_pem(pem))
    pending = one.start()
    assert two.finish(pending, _callback(pending)).token_type == "DPoP"


def test_a_refused_push_is_a_sign_in_error(agency_key: ec.EllipticCurvePrivateKey) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/par":
            body = {"error": "invalid_client", "error_description": "bad assertion"}
            return httpx.Response(401, json=body)
        return Identity(agency_key)(request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    client = OpenIdClient(
        ISSUER, PrivateKeyJwt(CLIENT, agency_key, kid="a1"), CALLBACK, http=http, fapi2=True
    )
    with pytest.raises(SignInError) as refused:
        client.start()
    assert (refused.value.error, refused.value.description) == ("invalid_client", "bad assertion")


def test_fapi2_needs_private_key_jwt() -> None:
    with pytest.raises(ValueError, match="private_key_jwt"):
        OpenIdClient(ISSUER, ClientSecret(CLIENT, "s"), CALLBACK, fapi2=True)


def test_agency_tokens_retry_once_with_the_token_endpoints_nonce(
    identity: Identity, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    identity.require_nonce = True
    answered: list[int] = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        if identity._proof(request) is None:
            answered.append(400)
            return identity._use_nonce(400)
        form = dict(parse_qsl(request.content.decode()))
        identity._client(form)
        answered.append(200)
        body = {"access_token": "at", "token_type": "DPoP", "expires_in": 300}
        return httpx.Response(200, json=body, headers={"DPoP-Nonce": "n-9"})

    tokens = TokenSource(
        TOKEN,
        PrivateKeyJwt(CLIENT, agency_key, kid="a1"),
        http=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
        dpop=DpopKey.generate(),
        audience=ISSUER,
    )
    assert tokens.token() == "at"
    assert answered == [400, 200]
    assert tokens.nonces.get(ISSUER) == "n-9"  # a success's nonce is kept too
    assert [a["aud"] for a in identity.assertions] == [ISSUER]


def test_dpop_auth_signs_json_calls_with_the_token_hash() -> None:
    key = DpopKey.generate()
    seen: list[httpx.Request] = []

    def service(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    http = httpx.Client(transport=httpx.MockTransport(service))
    url = "https://payments.example/gaap.payments.v1.PaymentsService/GetPayment"
    http.post(url + "?x=1", json={}, auth=DpopAuth(key, DpopNonces(), access_token="tok"))
    [request] = seen
    assert request.headers["authorization"] == "DPoP tok"
    claims = jwt.decode(request.headers["dpop"], options={"verify_signature": False})
    assert claims["htu"] == url
    assert claims["htm"] == "POST"
    assert claims["ath"] == _b64(hashlib.sha256(b"tok").digest())


def test_only_well_formed_nonces_are_kept() -> None:
    nonces = DpopNonces()
    server = origin("HTTPS://Identity.example/oauth2/token")
    assert server == ISSUER
    assert nonces.remember(server, 'bad"nonce') is None
    assert nonces.remember(server, "x" * 513) is None
    assert nonces.remember(server, "") is None
    assert nonces.get(server) is None
    assert nonces.remember(server, "ok-1") == "ok-1"
    assert nonces.get(server) == "ok-1"


def test_an_agency_file_under_the_profile_gives_a_fapi2_client(
    tmp_path: Path, agency_key: ec.EllipticCurvePrivateKey
) -> None:
    dpop = DpopKey.generate()
    pem = agency_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "agency.json"
    path.write_text(
        json.dumps(
            {
                "client_id": CLIENT,
                "profile": "fapi2",
                "issuer": ISSUER,
                "token_endpoint": TOKEN,
                "kid": "a1",
                "private_key": pem,
                "dpop_private_key": dpop.to_pem(),
            }
        )
    )
    with GaapClient.from_agency_file(path) as client:
        assert isinstance(client.tokens.credentials, PrivateKeyJwt)
        assert client.tokens.dpop is not None
        assert client.tokens.dpop.thumbprint == dpop.thumbprint  # the file's shared key
    path.write_text(json.dumps({"client_id": CLIENT, "profile": "fapi2", "token_endpoint": TOKEN}))
    with pytest.raises(KeyError):  # neither a key nor a secret
        GaapClient.from_agency_file(path)
