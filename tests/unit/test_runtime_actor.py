"""The client acting for an agency (RFC 8693 ``act``): kept in the principal and
named in every log line of the call, while the tenant stays the token's client_id."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm

from services.runtime import context, logs
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.errors import Unauthenticated

ISSUER = "https://identity.gaap.test"
AGENCY = "ag_agency"
CONSOLE = "ag_console"


class OneKey:
    def __init__(self, key: PyJWK) -> None:
        self.key = key

    def get(self, kid: str) -> PyJWK | None:
        return self.key if kid == "k1" else None


@pytest.fixture
def signer(ec_private_key: ec.EllipticCurvePrivateKey) -> Any:
    def sign(**extra: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": AGENCY,
            "client_id": AGENCY,
            "aud": ["urn:gaap:payments"],
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "scope": "payments:read",
            "gaap_mode": "test",
            **extra,
        }
        return jwt.encode(
            claims, ec_private_key, algorithm="ES256", headers={"kid": "k1", "typ": "at+jwt"}
        )

    return sign


@pytest.fixture
def verifier(ec_private_key: ec.EllipticCurvePrivateKey) -> AccessTokenVerifier:
    public = ECAlgorithm.to_jwk(ec_private_key.public_key(), as_dict=True)
    public.update({"kid": "k1", "alg": "ES256"})
    return AccessTokenVerifier(
        issuer=ISSUER, audience="urn:gaap:payments", keys=OneKey(PyJWK(public))
    )


def test_act_sub_is_the_principals_actor_and_the_tenant_is_unchanged(
    verifier: AccessTokenVerifier, signer: Any
) -> None:
    principal = verifier.verify(signer(act={"sub": CONSOLE}))
    assert (principal.client_id, principal.actor) == (AGENCY, CONSOLE)


def test_without_act_there_is_no_actor(verifier: AccessTokenVerifier, signer: Any) -> None:
    assert verifier.verify(signer()).actor is None


@pytest.mark.parametrize("act", ["ag_console", {"sub": 7}, {}, {"sub": ""}, {"sub": "x" * 65}])
def test_a_malformed_act_claim_is_refused(
    verifier: AccessTokenVerifier, signer: Any, act: Any
) -> None:
    with pytest.raises(Unauthenticated, match="'act'"):
        verifier.verify(signer(act=act))


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The service's JSON log lines, as ``logs.configure`` writes them."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    logs.configure("payments")
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    for added in list(root.handlers):
        root.removeHandler(added)
    for old in before:
        root.addHandler(old)
    root.setLevel(level)


@pytest.mark.parametrize(("act", "actor"), [({"sub": CONSOLE}, CONSOLE), (None, None)])
def test_each_log_line_of_the_call_names_the_actor(
    verifier: AccessTokenVerifier,
    signer: Any,
    log_lines: io.StringIO,
    act: dict[str, str] | None,
    actor: str | None,
) -> None:
    token = signer(act=act) if act else signer()
    call = context.Call("req-1", "/x", verifier.verify(token))
    reset = context.current_call.set(call)
    try:
        logging.getLogger("services.payments").info("rpc")
    finally:
        context.current_call.reset(reset)
    line = json.loads(log_lines.getvalue().splitlines()[-1])
    assert line["client_id"] == AGENCY
    assert line.get("actor") == actor
    assert token not in log_lines.getvalue()
