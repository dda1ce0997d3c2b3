"""``auth``, ``auth-uncached`` and ``dpop-call``: the empty RPC through the
production interceptor chain.

The server verifies real ES256 access tokens (RFC 9068) with the production
``AccessTokenVerifier`` over a ``KeyCache`` fed by a static JWKS, and the policy
requires a scope for the bench method. ``auth`` sends one token on every call
(the verifier's token cache answers after the first); ``auth-uncached`` sends a
different pre-generated token on every call, so each one is verified in full.
``dpop-call`` sends one DPoP-bound token (``cnf.jkt``) as ``DPoP <token>`` with
a fresh pre-generated proof on every call, to a server with the DPoP binding
payments and notify build; its baseline is ``auth`` (the same call as bearer).
"""

from __future__ import annotations

import inspect
import math

from bench.grpc_floor import DEFAULT_WORKERS, floor_measurement, run_grpc
from bench.grpc_load import ClientConfig, ServerConfig
from bench.harness import Measurement, Session
from bench.keys import KeyPair, new_key_pair
from bench.report import Figure, Target, measurement_figures

ISSUER = "http://127.0.0.1:8081"
RATIO_TARGET = Target("ratio", ">=", 0.7)
BASELINE = f"floor, threads/{DEFAULT_WORKERS}"
TOKEN_HEADROOM = 1.2  # pre-generate this many times the calls the floor rate allows
DPOP_URL = "https://payments.bench.example"  # the service's public URL (PAYMENTS_PUBLIC_URL)
DPOP_TARGET = Target("ratio", ">=", 0.7)
DPOP_BASELINE = "auth, bearer"
# The verifier accepts a proof's iat up to this old (DpopVerifier's max_age):
# pre-generated proofs must all be used within it.
DPOP_PROOF_WINDOW_S = 120


def _server(key: KeyPair, session: Session) -> ServerConfig:
    return ServerConfig(
        max_workers=DEFAULT_WORKERS,
        auth_issuer=ISSUER,
        auth_jwk=key.public_jwk,
        access_log=session.access_log,
    )


def auth_measurement(session: Session) -> Measurement:
    """The bearer call of this run (measured once, reused as dpop-call's baseline)."""
    found = session.measurements.get("auth")
    if found is None:
        key = new_key_pair()
        client = ClientConfig(
            seconds=session.seconds, warmup=session.warmup, key=key, issuer=ISSUER
        )
        found = run_grpc(session, "auth", _server(key, session), client)
    return found


def auth(session: Session) -> list[Figure]:
    base = floor_measurement(session)
    m = auth_measurement(session)
    return measurement_figures(
        "auth", "auth", m, baseline=base, baseline_source=BASELINE, rate_target=RATIO_TARGET
    )


def tokens_needed(base: Measurement, session: Session) -> int:
    """Enough distinct tokens for the measured phase, even at the floor's rate."""
    return math.ceil(base.rate * session.seconds * TOKEN_HEADROOM) + 1000


def verifier_cache_size() -> int:
    """How many verified tokens ``AccessTokenVerifier`` keeps by default."""
    from services.runtime.access_tokens import AccessTokenVerifier

    default = inspect.signature(AccessTokenVerifier).parameters["cache_size"].default
    return int(default)


def auth_uncached(session: Session) -> list[Figure]:
    base = floor_measurement(session)
    key = new_key_pair()
    client = ClientConfig(
        seconds=session.seconds,
        warmup=session.warmup,
        key=key,
        issuer=ISSUER,
        distinct_tokens=tokens_needed(base, session),
        cache_mark=verifier_cache_size(),
    )
    m = run_grpc(session, "auth-uncached", _server(key, session), client)
    _note_cache(session, m, client.cache_mark)
    return measurement_figures(
        "auth-uncached", "auth-uncached", m, baseline=base, baseline_source=BASELINE
    )


def _note_cache(session: Session, m: Measurement, cache_size: int) -> None:
    extra = m.load.extra
    sent = int(extra.get("fresh_tokens_sent", 0))
    if "rate_after_mark" not in extra:
        session.notes.append(
            f"auth-uncached: {sent:,} distinct tokens sent, fewer than the verifier's "
            f"cache size ({cache_size:,}): the figure is full verification without eviction"
        )
        return
    session.notes.append(
        f"auth-uncached: {sent:,} distinct tokens sent; the verifier's cache "
        f"({cache_size:,} tokens) was full after {extra['mark_reached_after_s']:.1f}s: "
        f"{extra['rate_before_mark']:,.0f} calls/s before, {extra['rate_after_mark']:,.0f} "
        "calls/s after (each new token then also pays the cache's eviction scan)"
    )


def dpop_call(session: Session) -> list[Figure]:
    base = auth_measurement(session)
    key, dpop_key = new_key_pair(), new_key_pair()
    # A proof per call, warm-up included, enough even at the bearer rate.
    proofs = math.ceil(base.rate * (session.warmup + session.seconds) * TOKEN_HEADROOM) + 1000
    if session.warmup + session.seconds > DPOP_PROOF_WINDOW_S / 2:
        session.notes.append(
            f"dpop-call: proofs are made before the warm-up and accepted for "
            f"{DPOP_PROOF_WINDOW_S}s; with phases this long the last ones may be refused as stale"
        )
    server = ServerConfig(
        max_workers=DEFAULT_WORKERS,
        auth_issuer=ISSUER,
        auth_jwk=key.public_jwk,
        access_log=session.access_log,
        dpop_url=DPOP_URL,
    )
    client = ClientConfig(
        seconds=session.seconds,
        warmup=session.warmup,
        key=key,
        issuer=ISSUER,
        dpop_key=dpop_key,
        dpop_url=DPOP_URL,
        dpop_proofs=proofs,
    )
    m = run_grpc(session, "dpop-call", server, client)
    session.notes.append(
        f"dpop-call: {proofs:,} proofs pre-generated by the client in "
        f"{m.load.extra.get('pregeneration_s', 0):.1f}s before the warm-up; "
        f"{int(m.load.extra.get('fresh_tokens_sent', 0)):,} sent over warm-up and phase; "
        f"client used {m.client_cores:.0%} of a core in the phase"
    )
    return measurement_figures(
        "dpop-call",
        "dpop-call",
        m,
        baseline=base,
        baseline_source=DPOP_BASELINE,
        rate_target=DPOP_TARGET,
    )
