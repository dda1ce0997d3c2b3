"""DPoP proofs (RFC 9449) for an agency: one key per client, a fresh proof per request.

``DpopKey.generate()`` makes an ES256 key; ``proof(method, uri, access_token)``
signs a proof for one request (``ath`` with the access token, at payments and
notify); ``thumbprint`` is the ``cnf.jkt`` that identity puts in the tokens
issued to this key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey


class DpopKey:
    """An ES256 key that signs DPoP proofs; it never leaves the process."""

    def __init__(self, key: ECKey) -> None:
        self._key = key
        self.public_jwk: dict[str, Any] = dict(key.as_dict(private=False))
        self.thumbprint: str = key.thumbprint()

    @classmethod
    def generate(cls) -> DpopKey:
        return cls(ECKey.generate_key("P-256"))

    def proof(
        self,
        method: str,
        uri: str,
        access_token: str | None = None,
        *,
        iat: int | None = None,
        jti: str | None = None,
    ) -> str:
        claims: dict[str, Any] = {
            "htm": method,
            "htu": uri,
            "iat": int(time.time()) if iat is None else iat,
            "jti": jti or secrets.token_urlsafe(16),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk}
        return jwt.encode(header, claims, self._key, algorithms=["ES256"])
