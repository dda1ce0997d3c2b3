"""How an agency proves who it is at identity's token endpoint."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60


@dataclass(frozen=True)
class ClientSecret:
    """``client_secret_basic``: the client id and secret in HTTP Basic."""

    client_id: str
    client_secret: str

    def authenticate(
        self, form: dict[str, str], endpoint: str
    ) -> tuple[dict[str, str], httpx.Auth]:
        return form, httpx.BasicAuth(self.client_id, self.client_secret)

    def __repr__(self) -> str:  # never print the secret
        return f"ClientSecret(client_id={self.client_id!r})"


@dataclass(frozen=True)
class PrivateKeyJwt:
    """``private_key_jwt`` (RFC 7523): a short-lived assertion signed with your key.

    ``private_key`` is a PEM string/bytes or a ``cryptography`` private key; ``kid``
    names its public half in the JWK Set you registered.
    """

    client_id: str
    private_key: Any
    kid: str
    algorithm: str = "ES256"

    def assertion(self, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,  # identity refuses a reused jti
        }
        key = self.private_key
        if isinstance(key, str | bytes):
            raw = key.encode() if isinstance(key, str) else key
            key = serialization.load_pem_private_key(raw, password=None)
        return jwt.encode(claims, key, algorithm=self.algorithm, headers={"kid": self.kid})

    def authenticate(
        self, form: dict[str, str], endpoint: str
    ) -> tuple[dict[str, str], httpx.Auth]:
        return {
            **form,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(endpoint),
        }, httpx.Auth()  # the base Auth adds nothing

    def __repr__(self) -> str:
        return f"PrivateKeyJwt(client_id={self.client_id!r}, kid={self.kid!r})"


Credentials = ClientSecret | PrivateKeyJwt
