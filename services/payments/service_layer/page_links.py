"""The hosted page's address: ``<public_url>/pay/<payment id>.<signature>``.

The signature (HMAC of the payment id with a secret the service keeps in its
database) is what lets a citizen's browser act on the payment, so the link is
recomputable for GetPayment's ``next_url`` and nothing about it is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


class PageLinks:
    def __init__(self, secret: str, public_url: str) -> None:
        self._secret = secret.encode()
        self.public_url = public_url

    def token(self, payment_id: str) -> str:
        return f"{payment_id}.{self._mac(payment_id)}"

    def url(self, payment_id: str) -> str:
        return f"{self.public_url}/pay/{self.token(payment_id)}"

    def payment_id(self, token: str) -> str | None:
        """The payment a token opens, or None if it was not made here."""
        payment_id, _, mac = token.partition(".")
        if not payment_id or not mac or not hmac.compare_digest(mac, self._mac(payment_id)):
            return None
        return payment_id

    def _mac(self, payment_id: str) -> str:
        digest = hmac.new(self._secret, b"page:" + payment_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()
