"""Stateless DPoP nonces (RFC 9449 §8, §9): an HMAC of the time window under the
service's secret, good for the current and the previous window on any replica."""

from __future__ import annotations

import pytest

from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.dpop import DpopBinding, DpopVerifier, MemoryReplays
from services.runtime.dpop_nonce import DpopNonces, UseDpopNonce, proof_nonce
from services.runtime.interceptors import AUTHENTICATED, AuthInterceptor
from tests.support.dpop_proofs import Prover
from tests.unit.test_runtime_dpop_binding import BASE, ISSUER, METHOD, Keys, access_token, call

SECRET = b"s" * 32
URI = "https://id.gaap.test/oauth2/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_another_replica_with_the_same_secret_accepts_the_nonce() -> None:
    clock = Clock()
    one, two = DpopNonces(SECRET, clock=clock), DpopNonces(SECRET, clock=clock)
    assert two.valid(one.current())


def test_a_nonce_is_good_for_the_previous_window_and_no_longer() -> None:
    clock = Clock()
    nonces = DpopNonces(SECRET, window=300, clock=clock)
    nonce = nonces.current()
    clock.now += 300
    assert nonces.valid(nonce)
    assert nonces.current() != nonce
    clock.now += 300
    assert not nonces.valid(nonce)


def test_another_secret_s_nonce_or_a_forged_one_is_refused() -> None:
    clock = Clock()
    mine = DpopNonces(SECRET, clock=clock)
    assert not mine.valid(DpopNonces(b"t" * 32, clock=clock).current())
    assert not mine.valid("forged")
    assert not mine.valid(None)


def test_a_proof_without_the_nonce_or_with_a_stale_one_is_use_dpop_nonce() -> None:
    clock = Clock()
    nonces = DpopNonces(SECRET, clock=clock)
    key = Prover()
    with pytest.raises(UseDpopNonce) as missing:
        nonces.check(key.proof("POST", URI))
    assert missing.value.nonce == nonces.current()
    assert 'DPoP error="use_dpop_nonce"' in (missing.value.challenge or "")
    stale = nonces.current()
    clock.now += 600
    with pytest.raises(UseDpopNonce):
        nonces.check(key.proof("POST", URI, nonce=stale))
    nonces.check(key.proof("POST", URI, nonce=nonces.current()))


def test_the_nonce_claim_is_read_from_the_proof() -> None:
    key = Prover()
    assert proof_nonce(key.proof("POST", URI, nonce="n-1")) == "n-1"
    assert proof_nonce(key.proof("POST", URI)) is None
    assert proof_nonce("not a jwt") is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        DpopNonces(b"short")


def test_the_auth_interceptor_asks_a_bound_tokens_proof_for_the_nonce() -> None:
    binding_verifier = interceptor_verifier()
    nonces = DpopNonces(SECRET)
    binding = DpopBinding(DpopVerifier(replays=MemoryReplays()), BASE)
    auth = AuthInterceptor(binding_verifier, {METHOD: AUTHENTICATED}, binding, nonces)
    key = Prover()
    token = access_token({"jkt": key.jkt})
    with pytest.raises(UseDpopNonce) as asked:
        call(
            auth,
            ("authorization", f"DPoP {token}"),
            ("dpop", key.proof("POST", BASE + METHOD, token)),
        )
    retry = key.proof("POST", BASE + METHOD, token, nonce=asked.value.nonce)
    assert call(auth, ("authorization", f"DPoP {token}"), ("dpop", retry)) == "answered"
    bearer = access_token()
    assert call(auth, ("authorization", f"Bearer {bearer}")) == "answered"  # no proof, no nonce


def interceptor_verifier() -> AccessTokenVerifier:
    return AccessTokenVerifier(issuer=ISSUER, audience=audience_for("payments"), keys=Keys())
