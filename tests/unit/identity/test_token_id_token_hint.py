"""RP-initiated logout's ``id_token_hint`` (verified with joserfc): an ID token
identity signed, for any agency, however old; nothing else."""

from __future__ import annotations

from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws, jwt
from joserfc.jwk import ECKey

from services.identity.service_layer.jwt_minting import sign
from services.identity.web.end_session import EndSession
from services.runtime.keys import KeyCache
from tests.unit.identity.token_world import ISSUER, REDIRECT_URI, World, new_verifier, world


class _Flow:
    issuer = ISSUER


def end_session(w: World) -> EndSession:
    keys = KeyCache(w.keys.jwks, max_age=0, min_refresh_interval=0)
    return EndSession(cast(Any, _Flow()), cast(Any, None), cast(Any, None), keys)


def id_token(w: World) -> str:
    client = w.agencies.rows["ag_one"]
    verifier = new_verifier()
    issued = w.tokens.redeem_code(client, w.code(client, verifier), REDIRECT_URI, verifier)
    assert issued.id_token is not None
    return issued.id_token


def test_an_old_id_token_of_ours_is_a_hint() -> None:
    w = world()
    token = id_token(w)
    w.clock.advance(days=2)
    claims = end_session(w).id_token_hint(token)
    assert claims is not None
    assert (claims["aud"], claims["sid"]) == ("ag_one", "sid_1")


def test_forged_foreign_or_malformed_hints_are_none() -> None:
    w = world()
    token = id_token(w)
    checks = end_session(w)
    header, payload, signature = token.split(".")
    assert checks.id_token_hint(f"{header}.{payload}.{signature[::-1]}") is None
    assert checks.id_token_hint("not.a.jwt") is None
    assert checks.id_token_hint("") is None
    stranger = ECKey.import_key(ec.generate_private_key(ec.SECP256R1()))
    kid = jws.extract_compact(token.encode()).headers()["kid"]
    forged = jwt.encode(
        {"alg": "ES256", "kid": kid}, {"iss": ISSUER, "aud": "a", "sub": "s"}, stranger
    )
    assert checks.id_token_hint(forged) is None
    other_issuer = sign(
        w.keys.signer(), {"iss": "https://elsewhere", "aud": "a", "sub": "s"}, "JWT"
    )
    assert checks.id_token_hint(other_issuer) is None
    no_subject = sign(w.keys.signer(), {"iss": ISSUER, "aud": "a"}, "JWT")
    assert checks.id_token_hint(no_subject) is None
