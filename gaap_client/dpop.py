"""DPoP proofs (RFC 9449) for an agency: one key per client, a fresh proof per request.

``DpopKey.generate()`` makes an ES256 key (``DpopKey.from_pem`` loads one you
keep, so that several replicas of your app share it); ``proof(method, uri,
access_token, nonce=...)`` signs a proof for one request (``ath`` with the access
token, at resource servers; ``nonce`` when the server asked for one);
``thumbprint`` is the ``cnf.jkt`` (and ``dpop_jkt``) that identity binds tokens
and codes to. ``DpopNonces`` remembers the latest ``DPoP-Nonce`` of each server.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

NONCE_HEADER = "DPoP-Nonce"
NONCE_METADATA = "dpop-nonce"  # the same, as gRPC metadata
# RFC 9449 §8.1: a nonce is 1*NQCHAR; a longer one than this is not a server's.
_NONCE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")


class DpopKey:
    """An ES256 key that signs DPoP proofs; it never leaves the process."""

    def __init__(self, key: ECKey) -> None:
        if key.curve_name != "P-256" or not key.is_private:
            raise ValueError("a DPoP key is a private P-256 (ES256) key")
        self._key = key
        self.public_jwk: dict[str, Any] = dict(key.as_dict(private=False))
        self.thumbprint: str = key.thumbprint()

    @classmethod
    def generate(cls) -> DpopKey:
        return cls(ECKey.generate_key("P-256"))

    @classmethod
    def from_pem(cls, pem: str | bytes) -> DpopKey:
        """A P-256 private key in PEM (PKCS#8 or SEC1), unencrypted."""
        raw = pem.encode() if isinstance(pem, str) else pem
        private = serialization.load_pem_private_key(raw, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValueError("a DPoP key is a private P-256 (ES256) key")
        return cls(ECKey.import_key(private))

    def to_pem(self) -> str:
        """The private key as unencrypted PKCS#8 PEM, to keep it (keep it secret)."""
        private = self._key.private_key
        assert private is not None
        return private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def proof(
        self,
        method: str,
        uri: str,
        access_token: str | None = None,
        *,
        nonce: str | None = None,
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
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk}
        return jwt.encode(header, claims, self._key, algorithms=["ES256"])

    def __repr__(self) -> str:  # never print the private key
        return f"DpopKey(thumbprint={self.thumbprint!r})"


def origin(url: str) -> str:
    """The server a URL is on (scheme and authority): nonces are kept per server."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class DpopNonces:
    """The latest ``DPoP-Nonce`` each server gave (RFC 9449 §8), by ``origin``:
    every answer that carries one replaces it; the next proof to that server
    sends it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nonces: dict[str, str] = {}

    def get(self, server: str) -> str | None:
        with self._lock:
            return self._nonces.get(server)

    def remember(self, server: str, nonce: str | None) -> str | None:
        """Keep ``nonce`` for ``server`` if it is one (a malformed value is
        ignored); returns what was kept, or ``None``."""
        if nonce is None or not _NONCE.fullmatch(nonce):
            return None
        with self._lock:
            self._nonces[server] = nonce
        return nonce
