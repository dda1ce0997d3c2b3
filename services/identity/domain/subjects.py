"""Subject identifiers (OIDC Core §8): public, or pairwise per sector.

A pairwise ``sub`` is a salted hash of the sector and the account, so two
agencies in different sectors cannot join their records of the same citizen,
and nobody without the salt can link a ``sub`` back to an account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.identity.domain.agencies import Agency


def subject_for(account_id: str, agency: Agency, salt: bytes) -> str:
    if agency.subject_type == "public":
        return account_id
    digest = hmac.new(salt, f"{agency.sector}\0{account_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
