"""``AccessTokenVerifier``: every RFC 9068 / RFC 8725 rule, each refusal naming its problem.

Tokens are signed for real (EC P-256 via pyjwt, or by hand for the forgeries pyjwt
will not produce); the key source is a tiny fake that counts its lookups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.runtime.access_tokens import REQUIRED_CLAIMS, AccessTokenVerifier, audience_for
from services.runtime.context import Principal
from services.runtime.errors import Unauthenticated

ISSUER = "https://identity.gaap.test"
AUDIENCE = audience_for("payments")
KID = "2025-key-1"
CLIENT_ID = "ag_0123456789abcdef01234567"


class CountingKeySource:
    """A ``KeySource`` over a fixed ``kid -> PyJWK`` map that counts lookups."""

    def __init__(self, keys: dict[str, PyJWK]) -> None:
        self.keys = keys
        self.calls = 0

    def get(self, kid: str) -> PyJWK | None:
        self.calls += 1
        return self.keys.get(kid)


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def compact(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes] | None
) -> str:
    """A JWS in compact form, built by hand (for tokens pyjwt refuses to make)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = sign(signing_input.encode()) if sign is not None else b""
    return f"{signing_input}.{b64url(signature)}"


def claims(*, without: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """Valid access-token claims for payments (and notify), minus ``without``."""
    issued = int(time.time())
    values: dict[str, Any] = {
        "iss": ISSUER,
        "sub": CLIENT_ID,
        "client_id": CLIENT_ID,
        "aud": [audience_for("notify"), AUDIENCE],
        "iat": issued,
        "exp": issued + 300,
        "jti": uuid.uuid4().hex,
        "scope": "payments:create payments:read",
        "gaap_mode": "test",
    }
    values.update(overrides)
    for name in without:
        del values[name]
    return values


def header(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"kid": KID, "typ": "at+jwt"}
    values.update(overrides)
    return values


def public_jwk(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, alg: str) -> PyJWK:
    if isinstance(key, ec.EllipticCurvePublicKey):
        raw = ECAlgorithm.to_jwk(key, as_dict=True)
    else:
        raw = RSAAlgorithm.to_jwk(key, as_dict=True)
    raw.update({"kid": KID, "alg": alg, "use": "sig"})
    return PyJWK(raw)


def refusal(verifier: AccessTokenVerifier, token: str) -> str:
    """The message of the ``Unauthenticated`` the token gets; it never echoes the token."""
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(token)
    message = info.value.message
    assert token not in message or not token
    return message


@pytest.fixture
def keys(ec_private_key: ec.EllipticCurvePrivateKey) -> CountingKeySource:
    return CountingKeySource({KID: public_jwk(ec_private_key.public_key(), "ES256")})


@pytest.fixture
def verifier(keys: CountingKeySource) -> AccessTokenVerifier:
    return AccessTokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys)


@pytest.fixture
def sign(ec_private_key: ec.EllipticCurvePrivateKey) -> Callable[..., str]:
    """Sign claims with the published EC key (ES256) under ``header()`` by default."""

    def _sign(payload: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(
            payload,
            ec_private_key,
            algorithm="ES256",
            headers=header() if headers is None else headers,
        )

    return _sign


def es256(key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    algorithm = ECAlgorithm(ECAlgorithm.SHA256)
    return lambda message: algorithm.sign(message, key)


# --- the happy path -------------------------------------------------------------------


def test_valid_token_gives_the_agency(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    payload = claims(gaap_mode="live")
    principal = verifier.verify(sign(payload))
    assert principal.client_id == CLIENT_ID
    assert principal.mode == "live"
    assert principal.scopes == frozenset({"payments:create", "payments:read"})
    assert principal.scope_order == ("payments:create", "payments:read")
    assert principal.token_id == payload["jti"]
    assert principal.expires_at == payload["exp"]
    assert principal.has_scope("payments:read")
    assert not principal.has_scope("payments:refund")


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_access_token_media_types_are_accepted(
    verifier: AccessTokenVerifier, sign: Callable[..., str], typ: str
) -> None:
    assert verifier.verify(sign(claims(), header(typ=typ))).client_id == CLIENT_ID


def test_audience_may_be_a_single_string(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    assert verifier.verify(sign(claims(aud=AUDIENCE))).client_id == CLIENT_ID


def test_expiry_within_leeway_is_accepted(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    issued = int(time.time()) - 300
    token = sign(claims(iat=issued, exp=int(time.time()) - 10))  # leeway is 30 s
    assert verifier.verify(token).client_id == CLIENT_ID


# --- malformed and forged tokens ----------------------------------------------------------


@pytest.mark.parametrize(
    "token", ["", "garbage", "a.b.c", "a.b", "!!!.!!!.!!!", "eyJhbGciOiJFUzI1NiJ9.e30"]
)
def test_malformed_token(verifier: AccessTokenVerifier, token: str) -> None:
    assert "malformed" in refusal(verifier, token)


def test_alg_none_is_refused(verifier: AccessTokenVerifier, keys: CountingKeySource) -> None:
    token = compact(header(alg="none"), claims(), sign=None)
    message = refusal(verifier, token)
    assert "'none'" in message
    assert "not accepted" in message
    assert keys.calls == 0


def test_hs256_signed_with_the_public_key_pem_is_refused(
    verifier: AccessTokenVerifier,
    keys: CountingKeySource,
    ec_private_key: ec.EllipticCurvePrivateKey,
) -> None:
    """The classic key-confusion attack: the public key used as an HMAC secret."""
    pem = ec_private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = compact(
        header(alg="HS256"),
        claims(),
        sign=lambda message: hmac.new(pem, message, hashlib.sha256).digest(),
    )
    message = refusal(verifier, token)
    assert "'HS256'" in message
    assert "not accepted" in message
    assert keys.calls == 0


def test_rs256_token_under_the_kid_of_an_ec_key_is_refused(
    verifier: AccessTokenVerifier, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    token = jwt.encode(claims(), rsa_private_key, algorithm="RS256", headers=header())
    assert "does not match" in refusal(verifier, token)


def test_rs256_token_signed_by_another_rsa_key_under_the_same_kid_is_refused(
    rsa_private_key: rsa.RSAPrivateKey, other_rsa_private_key: rsa.RSAPrivateKey
) -> None:
    keys = CountingKeySource({KID: public_jwk(rsa_private_key.public_key(), "RS256")})
    verifier = AccessTokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys)
    genuine = jwt.encode(claims(), rsa_private_key, algorithm="RS256", headers=header())
    assert verifier.verify(genuine).client_id == CLIENT_ID
    forged = jwt.encode(claims(), other_rsa_private_key, algorithm="RS256", headers=header())
    assert "signature does not verify" in refusal(verifier, forged)


def test_tampered_payload_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    token = sign(claims(scope="payments:read"))
    head, _, signature = token.split(".")
    widened = segment(claims(scope="payments:read payments:refund"))
    assert "signature does not verify" in refusal(verifier, f"{head}.{widened}.{signature}")


def test_truncated_signature_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    token = sign(claims())
    with pytest.raises(Unauthenticated):
        verifier.verify(token[:-8])


def test_unknown_kid_is_refused(verifier: AccessTokenVerifier, sign: Callable[..., str]) -> None:
    assert "unknown key" in refusal(verifier, sign(claims(), header(kid="someone-elses")))


def test_missing_kid_is_refused(
    verifier: AccessTokenVerifier, keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    token = sign(claims(), {"typ": "at+jwt"})
    assert "kid" in refusal(verifier, token)
    assert keys.calls == 0


def test_empty_kid_is_refused(verifier: AccessTokenVerifier, sign: Callable[..., str]) -> None:
    assert "kid" in refusal(verifier, sign(claims(), header(kid="")))


# --- claims --------------------------------------------------------------------------------


def test_expired_token_is_refused(verifier: AccessTokenVerifier, sign: Callable[..., str]) -> None:
    long_ago = int(time.time()) - 3600
    token = sign(claims(iat=long_ago, exp=long_ago + 300))  # far beyond the 30 s leeway
    assert "expired" in refusal(verifier, token)


def test_token_issued_in_the_future_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    later = int(time.time()) + 3600
    assert "not valid yet" in refusal(verifier, sign(claims(iat=later, exp=later + 300)))


def test_token_for_another_service_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    token = sign(claims(aud=[audience_for("notify")]))
    message = refusal(verifier, token)
    assert "audience" in message
    assert AUDIENCE in message


def test_token_from_another_issuer_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    message = refusal(verifier, sign(claims(iss="https://evil.example")))
    assert "issuer" in message
    assert ISSUER in message


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_each_required_claim_is_required(
    verifier: AccessTokenVerifier, sign: Callable[..., str], claim: str
) -> None:
    assert f"'{claim}'" in refusal(verifier, sign(claims(without=(claim,))))


def test_missing_gaap_mode_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str]
) -> None:
    assert "gaap_mode" in refusal(verifier, sign(claims(without=("gaap_mode",))))


@pytest.mark.parametrize("mode", ["prod", "TEST", "", 1, None])
def test_invalid_gaap_mode_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str], mode: object
) -> None:
    assert "gaap_mode" in refusal(verifier, sign(claims(gaap_mode=mode)))


@pytest.mark.parametrize(("claim", "value"), [("scope", ["payments:read"]), ("client_id", 42)])
def test_non_string_scope_or_client_id_is_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str], claim: str, value: object
) -> None:
    overrides: dict[str, Any] = {claim: value}
    assert claim in refusal(verifier, sign(claims(**overrides)))


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", "dpop+jwt", None])
def test_tokens_that_are_not_access_tokens_are_refused(
    verifier: AccessTokenVerifier, sign: Callable[..., str], typ: str | None
) -> None:
    """An ID token (typ JWT) or an untyped JWT must never pass as an access token."""
    chosen = header() if typ is None else header(typ=typ)
    if typ is None:
        del chosen["typ"]
    token = sign(claims(), chosen)
    assert "typ" in refusal(verifier, token)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jku", "https://evil.example/jwks.json"),
        ("x5u", "https://evil.example/cert.pem"),
        ("jwk", {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        ("x5c", ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ("crit", ["b64"]),
    ],
)
def test_forbidden_headers_are_refused(
    verifier: AccessTokenVerifier,
    ec_private_key: ec.EllipticCurvePrivateKey,
    name: str,
    value: object,
) -> None:
    extra: dict[str, Any] = {name: value}
    if name == "crit":
        extra["b64"] = True  # a well-formed crit, so only the verifier's own rule can refuse it
    token = compact(header(alg="ES256", **extra), claims(), sign=es256(ec_private_key))
    assert f"'{name}'" in refusal(verifier, token)


@pytest.mark.parametrize(
    "hostile",
    [
        {"kid": 123},
        {"crit": ["exp"], "exp": 1},
        {"crit": "b64"},
        {"alg": ["ES256"]},
        {"alg": {"name": "ES256"}},
        {"typ": 1},
        {"typ": ["at+jwt"]},
    ],
    ids=["kid-int", "crit-unknown", "crit-str", "alg-list", "alg-dict", "typ-int", "typ-list"],
)
def test_hostile_header_values_are_unauthenticated_not_a_crash(
    verifier: AccessTokenVerifier,
    ec_private_key: ec.EllipticCurvePrivateKey,
    hostile: dict[str, Any],
) -> None:
    """Headers are attacker-controlled: odd JSON types must end as UNAUTHENTICATED.

    Anything else (TypeError, AttributeError, pyjwt's InvalidTokenError) escapes the
    verifier and becomes INTERNAL with a logged traceback.
    """
    chosen = {"alg": "ES256", **header(), **hostile}
    token = compact(chosen, claims(), sign=es256(ec_private_key))
    refusal(verifier, token)


# --- the cache -----------------------------------------------------------------------------


def test_cached_token_does_not_consult_the_key_source_again(
    verifier: AccessTokenVerifier, keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    token = sign(claims())
    first = verifier.verify(token)
    second = verifier.verify(token)
    assert first == second
    assert keys.calls == 1


def test_refused_tokens_are_not_cached(
    verifier: AccessTokenVerifier, keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    token = sign(claims(iss="https://evil.example"))
    refusal(verifier, token)
    refusal(verifier, token)
    assert keys.calls == 2


def test_expired_cached_token_is_refused(keys: CountingKeySource, sign: Callable[..., str]) -> None:
    clock = FakeClock(time.time())
    verifier = AccessTokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=keys, leeway=30, clock=clock
    )
    issued = int(clock.now)
    token = sign(claims(iat=issued, exp=issued + 60))
    assert verifier.verify(token).client_id == CLIENT_ID
    clock.now = issued + 60 + 30 + 1  # past expiry and leeway, by the verifier's clock
    assert "expired" in refusal(verifier, token)


def test_cache_is_bounded_and_evicts_the_oldest(
    keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    verifier = AccessTokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, cache_size=3)
    tokens = [sign(claims()) for _ in range(10)]
    assert len(set(tokens)) == 10
    for token in tokens:
        verifier.verify(token)
    assert keys.calls == 10
    for token in tokens[-3:]:
        verifier.verify(token)  # the newest are still cached
    assert keys.calls == 10
    verifier.verify(tokens[0])  # the oldest was evicted: verified afresh
    assert keys.calls == 11


# --- exact words, edges and defaults (what mutation testing asked for) ------------------

NOW = 1_800_000_000


def verifier_at(keys: CountingKeySource, now: float, **options: Any) -> AccessTokenVerifier:
    settings: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "keys": keys}
    return AccessTokenVerifier(**(settings | {"clock": FakeClock(now)} | options))


def timed(**overrides: Any) -> dict[str, Any]:
    """Claims issued at NOW for five minutes, with ``overrides``."""
    return claims(**({"iat": NOW, "exp": NOW + 300} | overrides))


def test_each_refusal_says_exactly_what_failed(
    keys: CountingKeySource, sign: Callable[..., str], ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    at_now = verifier_at(keys, NOW)
    expected = {
        "not-a-jwt": "access token is malformed: not a signed JWT",
        sign(timed(), {"kid": KID, "typ": "JWT"}): (
            "token is not an access token (typ must be at+jwt)"
        ),
        sign(timed(), {"typ": "at+jwt"}): "access token has no key id (kid)",
        sign(timed(), header(kid="other")): "access token is signed by an unknown key",
        sign(timed(exp=NOW - 31)): "access token has expired; get a new one",
        sign(timed(iat=NOW + 31)): "access token is not valid yet (iat/nbf in the future)",
        sign(timed(nbf=NOW + 31)): "access token is not valid yet (iat/nbf in the future)",
        sign(timed(exp="soon")): "access token claim 'exp' must be a number",
        sign(timed(nbf="soon")): "access token claim 'nbf' must be a number",
        sign(timed(iat=True)): "access token claim 'iat' must be a number",
        sign(timed(iss="https://other.test")): (
            f"access token has the wrong issuer (expected {ISSUER})"
        ),
        sign(timed(aud="urn:gaap:notify")): (
            "access token is not for this service (audience must include urn:gaap:payments): "
            "request a token with a scope of this service"
        ),
        sign(timed(without=("jti",))): "access token lacks the 'jti' claim",
        sign(timed(scope=["payments:read"])): (
            "access token claims 'scope' and 'client_id' must be strings"
        ),
        sign(timed(gaap_mode="prod")): "access token lacks a valid 'gaap_mode' claim",
        compact(header(alg="ES256"), [1], es256(ec_private_key)): (  # type: ignore[arg-type]
            "access token is invalid: Invalid payload string: must be a json object"
        ),
    }
    for token, message in expected.items():
        assert refusal(at_now, token) == message


def test_an_unaccepted_algorithm_is_named_with_those_accepted(
    keys: CountingKeySource, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    token = compact(header(alg="HS256"), timed(), lambda _: b"x")
    assert refusal(verifier_at(keys, NOW), token) == (
        "access token algorithm 'HS256' is not accepted; accepted: ES256, PS256, RS256"
    )
    rs256_only = verifier_at(keys, NOW, algorithms=("RS256", "PS256"))
    assert refusal(rs256_only, compact(header(alg="ES256"), timed(), es256(ec_private_key))) == (
        "access token algorithm 'ES256' is not accepted; accepted: PS256, RS256"
    )


def test_a_key_of_another_algorithm_is_named(
    ec_private_key: ec.EllipticCurvePrivateKey, sign: Callable[..., str]
) -> None:
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    keys = CountingKeySource({KID: public_jwk(rsa_public, "RS256")})
    assert refusal(verifier_at(keys, NOW), sign(timed())) == (
        "access token algorithm does not match its key"
    )


def test_a_bad_signature_is_named(
    keys: CountingKeySource, ec_private_key: ec.EllipticCurvePrivateKey
) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    token = compact(header(alg="ES256"), timed(), es256(other))
    assert refusal(verifier_at(keys, NOW), token) == "access token signature does not verify"


def test_the_default_leeway_is_thirty_seconds_at_each_edge(
    keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    at_now = verifier_at(keys, NOW)
    assert at_now.verify(sign(timed(exp=NOW - 29))).client_id == CLIENT_ID
    assert refusal(at_now, sign(timed(exp=NOW - 30))) == "access token has expired; get a new one"
    assert at_now.verify(sign(timed(iat=NOW + 30))).client_id == CLIENT_ID
    assert at_now.verify(sign(timed(nbf=NOW + 30))).client_id == CLIENT_ID
    assert at_now.verify(sign(timed(nbf=NOW + 10))).client_id == CLIENT_ID


def test_times_are_judged_by_the_verifiers_clock_not_the_wall_clock(
    keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    # pyjwt would check exp and nbf against time.time(); identity's tests and replicas run on
    # the injected clock, so a token valid by that clock verifies whatever the wall says.
    past = 1_000_000_000
    assert verifier_at(keys, past).verify(sign(claims(iat=past, exp=past + 60))).expires_at == (
        past + 60
    )
    future = int(time.time()) + 86_400
    token = sign(claims(iat=future, nbf=future, exp=future + 60))
    assert verifier_at(keys, future).verify(token).client_id == CLIENT_ID


def test_a_tuple_of_audiences_is_accepted_and_named(
    keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    both = verifier_at(keys, NOW, audience=("urn:gaap:payments", "urn:gaap:extra"))
    assert both.verify(sign(timed(aud="urn:gaap:extra"))).client_id == CLIENT_ID
    assert refusal(both, sign(timed(aud="urn:gaap:notify"))) == (
        "access token is not for this service (audience must include "
        "['urn:gaap:payments', 'urn:gaap:extra']): request a token with a scope of this service"
    )


def test_the_agency_name_is_taken_and_capped(
    keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    at_now = verifier_at(keys, NOW)
    assert at_now.verify(sign(timed(gaap_agency_name="Land Registry"))).agency_name == (
        "Land Registry"
    )
    assert at_now.verify(sign(timed())).agency_name == ""
    assert at_now.verify(sign(timed(gaap_agency_name="x" * 300))).agency_name == "x" * 200


def test_an_error_text_from_pyjwt_is_capped() -> None:
    from services.runtime.access_tokens import _safe

    assert _safe(ValueError("y" * 300)) == "y" * 200


# --- the cache's edges, with verification itself counted and stubbed ---------------------


class CountedVerifier:
    """An AccessTokenVerifier whose signature check is replaced by a counter, so the
    cache's rules can be driven with thousands of tokens and exact expiry times."""

    def __init__(self, clock: FakeClock, expires_at: dict[str, int], **options: Any) -> None:
        self.verified: list[str] = []
        self.verifier = AccessTokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, keys=CountingKeySource({}), clock=clock, **options
        )
        self.expires_at = expires_at
        self.verifier._verify = self._verify  # type: ignore[method-assign]

    def _verify(self, token: str) -> tuple[Any, dict[str, Any]]:
        self.verified.append(token)
        exp = self.expires_at.get(token, NOW + 300)
        return Principal(CLIENT_ID, "test", frozenset(), token, exp), {}

    def cached(self, token: str) -> bool:
        """True when ``token`` is held in the cache (asking would not verify it again)."""
        return token in self.verifier._cache


def test_the_default_cache_holds_ten_thousand_tokens() -> None:
    counted = CountedVerifier(FakeClock(NOW), {})
    for n in range(10_000):
        counted.verifier.verify(f"t{n}")
    assert counted.cached("t0")
    counted.verifier.verify("t10000")  # the 10,001st: the oldest tenth makes room
    assert not counted.cached("t0")


@pytest.mark.parametrize(("size", "first_kept"), [(1, 1), (10, 1), (100, 10)])
def test_a_full_cache_drops_its_oldest_tenth_at_least_one(size: int, first_kept: int) -> None:
    counted = CountedVerifier(FakeClock(NOW), {}, cache_size=size)
    for n in range(size + 1):
        counted.verifier.verify(f"t{n}")
    # Tokens before first_kept were dropped; the rest, up to the newest, are still cached.
    kept = [n for n in range(size + 1) if counted.cached(f"t{n}")]
    assert kept == list(range(first_kept, size + 1))


def test_eviction_drops_expired_tokens_first_and_keeps_those_in_the_leeway() -> None:
    clock = FakeClock(NOW)
    # Five live tokens, then five at the exact end of their leeway (exp + 30 == now).
    expiry = {f"old{n}": NOW - 30 for n in range(5)}
    counted = CountedVerifier(clock, expiry, cache_size=10)
    for n in range(5):
        counted.verifier.verify(f"live{n}")
    for n in range(5):
        counted.verifier.verify(f"old{n}")
    counted.verifier.verify("new")
    assert all(counted.cached(f"live{n}") for n in range(5))

    in_leeway = {f"grace{n}": NOW - 10 for n in range(10)}
    counted = CountedVerifier(clock, in_leeway, cache_size=10)
    for n in range(10):
        counted.verifier.verify(f"grace{n}")
    counted.verifier.verify("new")
    assert [n for n in range(10) if counted.cached(f"grace{n}")] == list(range(1, 10))


def test_a_cached_token_within_its_leeway_is_still_served_and_refused_at_its_edge(
    keys: CountingKeySource, sign: Callable[..., str]
) -> None:
    clock = FakeClock(NOW)
    verifier = AccessTokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, clock=clock)
    token = sign(timed(exp=NOW + 60))
    verifier.verify(token)
    clock.now = NOW + 60 + 29
    verifier.verify(token)
    assert keys.calls == 1
    clock.now = NOW + 60 + 30
    assert refusal(verifier, token) == "access token has expired; get a new one"


def test_a_cached_token_another_thread_already_dropped_is_verified_again() -> None:
    # Two threads can find the same expired entry; the second one's removal must not fail.
    clock = FakeClock(NOW)
    counted = CountedVerifier(clock, {"t": NOW - 100})
    clock.now = NOW - 200
    counted.verifier.verify("t")
    clock.now = NOW

    class Racing(FakeClock):
        def __call__(self) -> float:
            counted.verifier._cache.pop("t", None)  # the other thread got there first
            return NOW

    counted.verifier._clock = Racing(NOW)
    counted.verifier.verify("t")
    assert counted.verified == ["t", "t"]
