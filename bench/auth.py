"""``auth`` and ``auth-uncached``: the empty RPC through the production interceptor chain.

The server verifies real ES256 access tokens (RFC 9068) with the production
``AccessTokenVerifier`` over a ``KeyCache`` fed by a static JWKS, and the policy
requires a scope for the bench method. ``auth`` sends one token on every call
(the verifier's token cache answers after the first); ``auth-uncached`` sends a
different pre-generated token on every call, so each one is verified in full.
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


def _server(key: KeyPair, session: Session) -> ServerConfig:
    return ServerConfig(
        max_workers=DEFAULT_WORKERS,
        auth_issuer=ISSUER,
        auth_jwk=key.public_jwk,
        access_log=session.access_log,
    )


def auth(session: Session) -> list[Figure]:
    base = floor_measurement(session)
    key = new_key_pair()
    client = ClientConfig(seconds=session.seconds, warmup=session.warmup, key=key, issuer=ISSUER)
    m = run_grpc(session, "auth", _server(key, session), client)
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
