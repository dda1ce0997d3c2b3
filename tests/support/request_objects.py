"""Signed request objects for tests (RFC 9101): an agency's signing key, its
public JWK Set to register, and request objects good or deliberately bad."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OctKey, RSAKey

TYP = "oauth-authz-req+jwt"


class RequestSigner:
    """One agency's key: ``sign`` makes a request object of ``params``."""

    def __init__(self, key: ECKey | RSAKey | None = None, alg: str = "ES256") -> None:
        self.key = key or ECKey.generate_key(
            "P-256", parameters={"kid": uuid.uuid4().hex[:8], "alg": "ES256", "use": "sig"}
        )
        self.alg = alg

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def sign(
        self,
        params: dict[str, Any],
        *,
        client_id: str,
        audience: str,
        lifetime: int = 300,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """``params`` as a request object from ``client_id`` for ``audience``
        at ``now`` (the server's clock); ``claims`` and ``header`` override (a
        value of None drops the member)."""
        now = int(time.time() if now is None else now)
        body: dict[str, Any] = {
            **params,
            "iss": client_id,
            "aud": audience,
            "client_id": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            **(claims or {}),
        }
        protected = {"alg": self.alg, "typ": TYP, "kid": self.key.kid, **(header or {})}
        return sign_jws(body, self.key, protected)

    def assertion(self, client_id: str, audience: str) -> str:
        """A ``private_key_jwt`` client assertion (RFC 7523) by the same key."""
        now = int(time.time())
        body = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        return sign_jws(body, self.key, {"alg": self.alg, "kid": self.key.kid})


def sign_jws(
    body: dict[str, Any] | bytes, key: ECKey | RSAKey | OctKey, header: dict[str, Any]
) -> str:
    protected = {k: v for k, v in header.items() if v is not None}
    if isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
    return jws.serialize_compact(protected, payload, key, algorithms=[protected["alg"]])
