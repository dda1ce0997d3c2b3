"""How an agency proves who it is at identity's token endpoint (authlib signs the
``private_key_jwt`` assertions, with joserfc)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from authlib.oauth2.rfc7523 import private_key_jwt_sign
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, OKPKey, RSAKey

ASSERTION_LIFETIME = 60  # seconds; identity refuses assertions living over five minutes


@dataclass(frozen=True)
class ClientSecret:
    """``client_secret_basic``: the client id and secret in HTTP Basic."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"ClientSecret(client_id={self.client_id!r})"


@dataclass(frozen=True)
class PrivateKeyJwt:
    """``private_key_jwt`` (RFC 7523): a short-lived assertion signed with your key.

    ``private_key`` is a PEM string/bytes, a ``cryptography`` private key or a
    joserfc key; ``kid`` names its public half in the JWK Set you registered.
    """

    client_id: str
    private_key: Any
    kid: str
    algorithm: str = "ES256"

    @cached_property
    def _jwk(self) -> ECKey | RSAKey | OKPKey:
        key = self.private_key
        if isinstance(key, ECKey | RSAKey | OKPKey):
            return key
        if isinstance(key, str | bytes):
            raw = key.encode() if isinstance(key, str) else key
            key = serialization.load_pem_private_key(raw, password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return ECKey.import_key(key)
        if isinstance(key, rsa.RSAPrivateKey):
            return RSAKey.import_key(key)
        return OKPKey.import_key(key)

    def jwk(self) -> ECKey | RSAKey | OKPKey:
        """The private key as joserfc's key (parsed once)."""
        return self._jwk

    def assertion(self, audience: str) -> str:
        """A fresh assertion for ``audience`` (the token endpoint): iss and sub are
        the client id, a new ``jti`` each time (identity refuses a reused one)."""
        return str(
            private_key_jwt_sign(
                self.jwk(),
                client_id=self.client_id,
                token_endpoint=audience,
                alg=self.algorithm,
                header={"kid": self.kid},
                expires_in=ASSERTION_LIFETIME,
            )
        )

    def __repr__(self) -> str:
        return f"PrivateKeyJwt(client_id={self.client_id!r}, kid={self.kid!r})"


Credentials = ClientSecret | PrivateKeyJwt
