"""``DpopVerifier``: every check of RFC 9449 §4.3, each refusal naming its problem;
RFC 7638 thumbprints; the replay stores (memory, and Redis when it is reachable)."""

from __future__ import annotations

import base64
import json
import string
import time
import uuid
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gaap_client.dpop import DpopKey
from services.runtime.dpop import (
    DpopVerifier,
    InvalidDpopProof,
    LayeredReplays,
    MemoryReplays,
    RedisReplays,
    access_token_hash,
    normalize_uri,
    thumbprint,
)
from services.runtime.errors import Unauthenticated

NOW = 1_800_000_000
URI = "https://payments.gaap.test/gaap.payments.v1.Payments/CreatePayment"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def verifier(clock: Clock | None = None, replays: Any = None) -> DpopVerifier:
    clock = clock or Clock()
    return DpopVerifier(replays=replays or MemoryReplays(clock), clock=clock)


def ec_key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    public: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return private, public


def forged(
    claims: dict[str, Any] | None = None,
    *,
    alg: str = "ES256",
    key: Any = None,
    header: dict[str, Any] | None = None,
) -> str:
    """A proof signed by hand, with any header or claim changed."""
    private, public = ec_key()
    body = {"htm": "POST", "htu": URI, "iat": NOW, "jti": uuid.uuid4().hex}
    body["ath"] = access_token_hash(TOKEN)
    body.update(claims or {})
    headers = {"typ": "dpop+jwt", "jwk": public, **(header or {})}
    return jwt.encode(body, key if key is not None else private, algorithm=alg, headers=headers)


def check(proof: str, v: DpopVerifier | None = None, **request: Any) -> Any:
    args: dict[str, Any] = {"method": "POST", "uri": URI, "access_token": TOKEN, **request}
    return (v or verifier()).verify(proof, **args)


def test_a_valid_proof_gives_the_key_thumbprint() -> None:
    key = DpopKey.generate()
    proof = check(key.proof("POST", URI, TOKEN, iat=NOW))
    assert proof.jkt == key.thumbprint
    assert proof.iat == NOW


def test_an_rsa_pss_proof_is_accepted() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    proof = forged(alg="PS256", key=private, header={"jwk": public})
    assert check(proof).jkt == thumbprint(public)


def test_the_same_proof_twice_is_refused() -> None:
    v = verifier()
    proof = DpopKey.generate().proof("POST", URI, TOKEN, iat=NOW)
    check(proof, v)
    with pytest.raises(InvalidDpopProof, match="used before"):
        check(proof, v)


def test_a_refusal_is_unauthenticated_and_never_echoes_the_proof() -> None:
    proof = forged({"htm": "GET"})
    with pytest.raises(Unauthenticated) as refused:
        check(proof)
    assert proof not in str(refused.value)
    assert TOKEN not in str(refused.value)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"typ": "JWT"}, "'typ' must be 'dpop\\+jwt'"),
        ({"typ": None}, "'typ' must be"),
        ({"jwk": None}, "needs the public key"),
        ({"jwk": "not an object"}, "needs the public key"),
    ],
)
def test_a_bad_header_is_refused(header: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidDpopProof, match=message):
        check(forged(header=header))


def test_alg_none_is_refused() -> None:
    _, public = ec_key()

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    head = part({"typ": "dpop+jwt", "alg": "none", "jwk": public})
    body = part({"htm": "POST", "htu": URI, "iat": NOW, "jti": "x"})
    with pytest.raises(InvalidDpopProof, match="algorithm 'none' is not accepted"):
        check(f"{head}.{body}.")


def test_hs256_is_refused_even_with_a_symmetric_jwk() -> None:
    secret = b"s" * 32
    k = base64.urlsafe_b64encode(secret).decode().rstrip("=")
    proof = forged(alg="HS256", key=secret, header={"jwk": {"kty": "oct", "k": k}})
    with pytest.raises(InvalidDpopProof, match="algorithm 'HS256' is not accepted"):
        check(proof)


def test_rs256_is_not_in_the_allow_list() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    with pytest.raises(InvalidDpopProof, match="'RS256' is not accepted"):
        check(forged(alg="RS256", key=private, header={"jwk": public}))


def test_a_private_key_in_the_jwk_is_refused() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    with_d = json.loads(ECAlgorithm.to_jwk(private))
    assert "d" in with_d
    with pytest.raises(InvalidDpopProof, match="private members"):
        check(forged(key=private, header={"jwk": with_d}))


def test_a_key_of_the_wrong_type_for_the_alg_is_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    with pytest.raises(InvalidDpopProof, match="does not fit ES256"):
        check(forged(header={"jwk": public}))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_short_rsa_key_is_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the weak key under test)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    with pytest.raises(InvalidDpopProof, match="under 2048 bits"):
        check(forged(alg="PS256", key=private, header={"jwk": public}))


def test_a_proof_signed_by_another_key_is_refused() -> None:
    _, other_public = ec_key()
    with pytest.raises(InvalidDpopProof, match="signature does not verify"):
        check(forged(header={"jwk": other_public}))


def test_a_jwk_that_is_no_point_on_the_curve_is_refused() -> None:
    _, public = ec_key()
    public["y"] = public["x"]
    with pytest.raises(InvalidDpopProof, match="not a valid public key"):
        check(forged(header={"jwk": public}))


def test_a_critical_jws_extension_is_refused() -> None:
    with pytest.raises(InvalidDpopProof, match="extension"):
        check(forged(header={"crit": ["exp"], "exp": NOW}))


def test_a_signature_in_a_non_canonical_encoding_is_refused() -> None:
    head, body, signature = forged().split(".")
    # 64 bytes in 86 characters leave 4 unused bits in the last one: setting
    # one decodes to the same bytes, but it is not the signature's encoding.
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    altered = signature[:-1] + alphabet[alphabet.index(signature[-1]) ^ 1]
    with pytest.raises(InvalidDpopProof, match="not a valid signed JWT"):
        check(f"{head}.{body}.{altered}")


@pytest.mark.parametrize("padded", ["header", "signature"])
def test_a_padded_segment_is_refused(padded: str) -> None:
    head, body, signature = forged().split(".")
    proof = f"{head}=.{body}.{signature}" if padded == "header" else f"{head}.{body}.{signature}="
    with pytest.raises(InvalidDpopProof, match="JWT"):
        check(proof)


def test_a_header_seen_before_still_needs_a_signature_over_the_new_claims() -> None:
    v = verifier()
    key = DpopKey.generate()
    first = key.proof("POST", URI, TOKEN, iat=NOW)
    second = key.proof("POST", URI, TOKEN, iat=NOW)
    check(first, v)
    head, _, signature = first.split(".")
    with pytest.raises(InvalidDpopProof, match="signature does not verify"):
        check(f"{head}.{second.split('.')[1]}.{signature}", v)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"htm": "GET"}, "'htm' must be 'POST'"),
        ({"htm": "post"}, "'htm' must be 'POST'"),
        ({"htm": None}, "'htm' must be"),
        ({"htu": "https://payments.gaap.test/gaap.payments.v1.Payments/GetPayment"}, "'htu'"),
        ({"htu": "https://other.gaap.test/gaap.payments.v1.Payments/CreatePayment"}, "'htu'"),
        ({"htu": "http://payments.gaap.test/gaap.payments.v1.Payments/CreatePayment"}, "'htu'"),
        ({"htu": 5}, "'htu'"),
        ({"iat": NOW - 121}, "older than 120 seconds"),
        ({"iat": NOW + 31}, "in the future"),
        ({"iat": "now"}, "numeric 'iat'"),
        ({"iat": True}, "numeric 'iat'"),
        ({"jti": ""}, "'jti'"),
        ({"jti": "x" * 256}, "'jti'"),
        ({"jti": 7}, "jti|not a valid signed JWT"),
        ({"ath": access_token_hash("another token")}, "'ath' does not match"),
        ({"ath": None}, "'ath' does not match"),
    ],
)
def test_a_bad_claim_is_refused(claims: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidDpopProof, match=message):
        check(forged(claims))


def test_a_missing_ath_is_refused_at_a_resource_server_only() -> None:
    key = DpopKey.generate()
    with pytest.raises(InvalidDpopProof, match="'ath'"):
        check(key.proof("POST", URI, iat=NOW))
    check(key.proof("POST", URI, iat=NOW), access_token=None)


def test_the_iat_window_edges_are_accepted() -> None:
    key = DpopKey.generate()
    check(key.proof("POST", URI, TOKEN, iat=NOW - 120))
    check(key.proof("POST", URI, TOKEN, iat=NOW + 30))


@pytest.mark.parametrize("proof", ["", "a.b", "a.b.c", "x" * 9000 + ".a.b"])
def test_what_is_not_a_jwt_is_refused(proof: str) -> None:
    with pytest.raises(InvalidDpopProof, match="JWT"):
        check(proof)


def test_htu_ignores_query_and_fragment_and_is_normalised() -> None:
    key = DpopKey.generate()
    spelled = "HTTPS://Payments.GAAP.test:443/gaap.payments.v1.Payments/CreatePayment?a=1#f"
    check(key.proof("POST", spelled, TOKEN, iat=NOW))
    assert normalize_uri("http://h.test:80") == "http://h.test/"
    assert normalize_uri("http://h.test:8080/a%7eb%2f") == "http://h.test:8080/a~b%2F"
    assert normalize_uri("https://[::1]:443/x") == "https://[::1]/x"


def test_a_replay_is_refused_until_the_proof_would_be_stale_anyway() -> None:
    clock = Clock()
    replays = MemoryReplays(clock)
    assert replays.first_use("k", NOW + 10)
    assert not replays.first_use("k", NOW + 10)
    clock.now = NOW + 11
    assert replays.first_use("k", NOW + 30)


def test_a_full_memory_drops_expired_proofs_first() -> None:
    clock = Clock()
    replays = MemoryReplays(clock, max_entries=3)
    assert replays.first_use("a", NOW + 10)
    assert replays.first_use("b", NOW + 20)
    assert replays.first_use("c", NOW + 20)
    clock.now = NOW + 11  # "a" expired: room without forgetting a live proof
    assert replays.first_use("d", NOW + 30)
    assert not replays.first_use("b", NOW + 30)
    assert not replays.first_use("c", NOW + 30)
    assert not replays.first_use("d", NOW + 30)


def test_a_memory_full_of_live_proofs_forgets_the_oldest_not_everyone() -> None:
    clock = Clock()
    replays = MemoryReplays(clock, max_entries=10)
    for n in range(10):
        assert replays.first_use(f"k{n}", NOW + 100)
    assert replays.first_use("new", NOW + 100)  # accepted, not refused
    assert replays.first_use("k0", NOW + 100)  # the oldest was forgotten
    for n in range(2, 10):
        assert not replays.first_use(f"k{n}", NOW + 100)
    assert not replays.first_use("new", NOW + 100)


def test_thumbprint_is_rfc_7638s_example() -> None:
    # RFC 7638 §3.1: the RSA key and its SHA-256 thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJEC"
        "PebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvz"
        "qY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZ"
        "u0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    key = {"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_needs_a_public_ec_or_rsa_key() -> None:
    with pytest.raises(InvalidDpopProof, match="EC or RSA"):
        thumbprint({"kty": "oct", "k": "abc"})
    with pytest.raises(InvalidDpopProof, match="lacks one of"):
        thumbprint({"kty": "EC", "crv": "P-256", "x": "abc"})


def test_the_client_key_thumbprint_matches_the_verifier() -> None:
    key = DpopKey.generate()
    assert thumbprint(key.public_jwk) == key.thumbprint


def test_memory_first_then_the_shared_store() -> None:
    clock = Clock()
    shared = MemoryReplays(clock)
    replica_a = LayeredReplays(MemoryReplays(clock), shared)
    replica_b = LayeredReplays(MemoryReplays(clock), shared)
    assert replica_a.first_use("k", NOW + 10)
    assert not replica_b.first_use("k", NOW + 10)  # the other replica's memory missed
    assert not replica_a.first_use("k", NOW + 10)


@pytest.mark.redis
def test_two_replicas_on_redis_refuse_a_replayed_proof(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    prefix = f"gaap:test-dpop:{uuid.uuid4().hex}"
    clock = Clock()
    clock.now = time.time()
    replicas = [
        verifier(clock, LayeredReplays(MemoryReplays(clock), RedisReplays(client, prefix, clock)))
        for _ in range(2)
    ]
    proof = DpopKey.generate().proof("POST", URI, TOKEN, iat=int(clock.now))
    check(proof, replicas[0])
    with pytest.raises(InvalidDpopProof, match="used before"):
        check(proof, replicas[1])
    stored = list(client.scan_iter(f"{prefix}:*"))
    assert len(stored) == 1
    assert 0 < int(client.pttl(stored[0])) <= 151_000
    client.delete(*stored)


def test_redis_down_refuses_the_proof() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    with pytest.raises(InvalidDpopProof, match="cannot be checked"):
        RedisReplays(client, "p").first_use("k", NOW + 10)
