"""The binding rules of RFC 9449 §7 in the auth interceptor: a token with
``cnf.jkt`` only as ``DPoP <token>`` with a proof by that key for this call; a
token without it only as ``Bearer``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, cast

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm

from gaap_client.dpop import DpopKey
from services.runtime.access_tokens import AccessTokenVerifier, audience_for
from services.runtime.dpop import DpopBinding, DpopVerifier, InvalidDpopProof, MemoryReplays
from services.runtime.errors import Unauthenticated
from services.runtime.interceptors import AUTHENTICATED, AuthInterceptor

ISSUER = "https://identity.gaap.test"
BASE = "https://payments.gaap.test"
METHOD = "/gaap.payments.v1.PaymentsService/GetPayment"
SIGNER = ec.generate_private_key(ec.SECP256R1())
KEYS = {"k1": PyJWK(json.loads(ECAlgorithm.to_jwk(SIGNER.public_key())), algorithm="ES256")}


class Keys:
    def get(self, kid: str) -> PyJWK | None:
        return KEYS.get(kid)


def access_token(cnf: Any = None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "ag_1",
        "client_id": "ag_1",
        "aud": [audience_for("payments")],
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": "payments:read",
        "gaap_mode": "test",
    }
    if cnf is not None:
        claims["cnf"] = cnf
    return jwt.encode(claims, SIGNER, algorithm="ES256", headers={"kid": "k1", "typ": "at+jwt"})


def interceptor(dpop: bool = True) -> AuthInterceptor:
    verifier = AccessTokenVerifier(issuer=ISSUER, audience=audience_for("payments"), keys=Keys())
    binding = DpopBinding(DpopVerifier(replays=MemoryReplays()), BASE) if dpop else None
    return AuthInterceptor(verifier, {METHOD: AUTHENTICATED}, binding)


def call(auth: AuthInterceptor, *metadata: tuple[str, str]) -> Any:
    return auth.around(METHOD, metadata, cast(grpc.ServicerContext, None), lambda: "answered")


def test_a_bound_token_with_a_proof_by_its_key_is_accepted() -> None:
    key = DpopKey.generate()
    token = access_token({"jkt": key.thumbprint})
    proof = key.proof("POST", BASE + METHOD, token)
    assert call(interceptor(), ("authorization", f"DPoP {token}"), ("dpop", proof)) == "answered"


def test_the_scheme_is_case_insensitive() -> None:
    key = DpopKey.generate()
    token = access_token({"jkt": key.thumbprint})
    proof = key.proof("POST", BASE + METHOD, token)
    assert call(interceptor(), ("authorization", f"dpop {token}"), ("dpop", proof)) == "answered"


def test_a_bound_token_as_bearer_is_refused_with_a_dpop_challenge() -> None:
    key = DpopKey.generate()
    token = access_token({"jkt": key.thumbprint})
    proof = key.proof("POST", BASE + METHOD, token)
    with pytest.raises(Unauthenticated, match="bound to a DPoP key") as refused:
        call(interceptor(), ("authorization", f"Bearer {token}"), ("dpop", proof))
    assert refused.value.challenge == 'DPoP error="invalid_token", algs="ES256 PS256"'


def test_a_bound_token_without_a_proof_is_refused() -> None:
    token = access_token({"jkt": DpopKey.generate().thumbprint})
    with pytest.raises(InvalidDpopProof, match="send a DPoP proof") as refused:
        call(interceptor(), ("authorization", f"DPoP {token}"))
    assert refused.value.challenge is not None
    assert refused.value.challenge.startswith('DPoP error="invalid_dpop_proof"')


def test_a_proof_by_another_key_is_refused() -> None:
    token = access_token({"jkt": DpopKey.generate().thumbprint})
    proof = DpopKey.generate().proof("POST", BASE + METHOD, token)
    with pytest.raises(InvalidDpopProof, match="another key"):
        call(interceptor(), ("authorization", f"DPoP {token}"), ("dpop", proof))


def test_a_proof_for_another_method_is_refused() -> None:
    key = DpopKey.generate()
    token = access_token({"jkt": key.thumbprint})
    proof = key.proof("POST", BASE + "/gaap.payments.v1.PaymentsService/CreatePayment", token)
    with pytest.raises(InvalidDpopProof, match="'htu'"):
        call(interceptor(), ("authorization", f"DPoP {token}"), ("dpop", proof))


def test_the_same_proof_twice_is_refused() -> None:
    key = DpopKey.generate()
    token = access_token({"jkt": key.thumbprint})
    metadata = (
        ("authorization", f"DPoP {token}"),
        ("dpop", key.proof("POST", BASE + METHOD, token)),
    )
    auth = interceptor()
    call(auth, *metadata)
    with pytest.raises(InvalidDpopProof, match="used before"):
        call(auth, *metadata)


def test_an_unbound_token_works_as_bearer_and_is_refused_as_dpop() -> None:
    token = access_token()
    assert call(interceptor(), ("authorization", f"Bearer {token}")) == "answered"
    with pytest.raises(Unauthenticated, match="not bound to a DPoP key"):
        call(interceptor(), ("authorization", f"DPoP {token}"))


def test_a_service_without_dpop_refuses_bound_tokens() -> None:
    key = DpopKey.generate()
    token = access_token({"jkt": key.thumbprint})
    proof = key.proof("POST", BASE + METHOD, token)
    with pytest.raises(Unauthenticated, match="does not accept DPoP-bound"):
        call(interceptor(dpop=False), ("authorization", f"DPoP {token}"), ("dpop", proof))


@pytest.mark.parametrize("cnf", [{"jkt": 5}, {"jkt": ""}, {}, "jkt", ["x"]])
def test_a_malformed_cnf_is_refused(cnf: Any) -> None:
    with pytest.raises(Unauthenticated, match="'cnf' must hold"):
        call(interceptor(), ("authorization", f"Bearer {access_token(cnf)}"))


def test_another_scheme_is_refused() -> None:
    with pytest.raises(Unauthenticated, match="'Bearer <token>' or 'DPoP <token>'"):
        call(interceptor(), ("authorization", f"Basic {access_token()}"))


def test_two_proofs_are_refused() -> None:
    key = DpopKey.generate()
    token = access_token({"jkt": key.thumbprint})
    proofs = [("dpop", key.proof("POST", BASE + METHOD, token)) for _ in range(2)]
    with pytest.raises(InvalidDpopProof, match="exactly one DPoP proof"):
        call(interceptor(), ("authorization", f"DPoP {token}"), *proofs)
