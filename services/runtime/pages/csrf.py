"""CSRF tokens: an HMAC of the browser session and the form's purpose.

A token is only good for the session cookie it was issued with and the form it
was issued for, and it is checked with ``hmac.compare_digest``. Nothing is stored
server-side, so any replica holding the same secret can check it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


class CsrfTokens:
    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the CSRF secret must be at least 16 bytes")
        self._key = key

    def issue(self, session: str, purpose: str) -> str:
        mac = hmac.new(self._key, f"{session}\0{purpose}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def check(self, session: str, purpose: str, token: str) -> bool:
        if not session or not token:
            return False
        return hmac.compare_digest(self.issue(session, purpose), token)
