"""How a resource server accepts an access token (RFC 9449 §7), shared by the
auth interceptor (payments, notify) and identity's UserInfo endpoint:

- a token bound to a DPoP key (``cnf.jkt``) only as ``DPoP <token>`` with
  exactly one fresh proof for this request (``htm``, ``htu``, ``ath``) signed by
  that key; sent as ``Bearer`` it is refused with a DPoP ``invalid_token``
  challenge;
- an unbound token only as ``Bearer <token>``;
- with server nonces on (``nonces``), the proof must carry a current one.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from services.runtime.dpop import DpopVerifier, InvalidDpopProof, challenge
from services.runtime.dpop_nonce import DpopNonces
from services.runtime.errors import Unauthenticated


def check_presented(
    *,
    scheme: str,
    token: str,
    jkt: str | None,
    proofs: Sequence[object],
    verifier: DpopVerifier | None,
    htm: str,
    htu: str,
    nonces: DpopNonces | None = None,
) -> None:
    """Refuse (``Unauthenticated``) unless the token is presented as its binding
    asks. ``scheme``: the Authorization scheme in lower case; ``proofs``: every
    DPoP proof the request carries; ``jkt``: the key the token is bound to."""
    if jkt is None:
        if scheme == "dpop":
            raise Unauthenticated(
                "this access token is not bound to a DPoP key: send it as 'Bearer <token>'"
            )
        return
    if scheme != "dpop":
        raise Unauthenticated(
            "this access token is bound to a DPoP key: send it as 'DPoP <token>' with a DPoP proof",
            challenge("invalid_token"),
        )
    if verifier is None:
        raise Unauthenticated("this service does not accept DPoP-bound access tokens")
    if len(proofs) > 1:
        raise InvalidDpopProof("send exactly one DPoP proof")
    proof = proofs[0] if proofs and isinstance(proofs[0], str) else None
    if not proof:
        raise InvalidDpopProof(
            "this access token is bound to a DPoP key: send a DPoP proof "
            "(metadata 'dpop', HTTP header 'DPoP') with every call"
        )
    verified = verifier.verify(proof, method=htm, uri=htu, access_token=token)
    if not hmac.compare_digest(verified.jkt.encode(), jkt.encode("ascii", "replace")):
        raise InvalidDpopProof(
            "DPoP proof is signed by another key than the one the access token is bound to"
        )
    if nonces is not None:
        nonces.check(proof)
