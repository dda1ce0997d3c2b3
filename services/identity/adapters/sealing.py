"""Secrets at rest sealed with a key-encryption key (AES-256-GCM).

With ``IDENTITY_KEY_ENCRYPTION_KEY`` set (32 random bytes, base64), signing keys
and TOTP secrets are stored sealed; without it they are stored as they are, and
``seal`` is the identity. Sealed values carry a prefix, so a database can hold
both while an operator turns sealing on (values are sealed as they are rewritten).
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.runtime.errors import StartupError

PREFIX = "sealed:v1:"


class Sealer:
    def __init__(self, kek: bytes | None) -> None:
        if kek is not None and len(kek) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek) if kek else None

    @classmethod
    def from_setting(cls, value: str) -> Sealer:
        """From the base64 setting; an unusable value stops the process at start."""
        if not value:
            return cls(None)
        try:
            kek = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise StartupError("IDENTITY_KEY_ENCRYPTION_KEY is not base64") from None
        if len(kek) != 32:
            raise StartupError("IDENTITY_KEY_ENCRYPTION_KEY must decode to 32 bytes")
        return cls(kek)

    @property
    def enabled(self) -> bool:
        return self._aead is not None

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """``context`` (for example a key id) is authenticated: a sealed value
        copied to another row does not open."""
        if self._aead is None:
            return plaintext
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context)
        return PREFIX.encode() + base64.urlsafe_b64encode(nonce + sealed)

    def unseal(self, stored: bytes, context: bytes) -> bytes:
        if not stored.startswith(PREFIX.encode()):
            return stored
        if self._aead is None:
            raise StartupError(
                "identity's database holds sealed secrets: set IDENTITY_KEY_ENCRYPTION_KEY"
            )
        raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], context)

    def seal_text(self, plaintext: str, context: str) -> str:
        return self.seal(plaintext.encode(), context.encode()).decode()

    def unseal_text(self, stored: str, context: str) -> str:
        return self.unseal(stored.encode(), context.encode()).decode()
