"""An agency's registered public keys (its JWK Set) as joserfc verifies with them.

Client assertions (``private_key_jwt``) and signed request objects are checked
with the same keys: both read them from here, parsed once per distinct set.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from joserfc.jwk import KeySet


def key_set(jwks: Mapping[str, Any]) -> KeySet:
    """``jwks`` parsed, from a cache keyed by its content (a changed set is parsed anew)."""
    return _parsed(json.dumps(jwks, sort_keys=True))


@functools.lru_cache(maxsize=1024)
def _parsed(jwks_json: str) -> KeySet:
    return KeySet.import_key_set(json.loads(jwks_json))
