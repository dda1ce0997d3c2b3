"""``IdempotencyStore`` in memory, with the SQL store's rules (the shared
contract tests in tests/unit/test_runtime_idempotency.py run both)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.runtime.errors import AlreadyExists
from services.runtime.idempotency import Keyed


@dataclass
class MemoryIdempotencyKeys:
    # (tenant, key) -> (fingerprint, response or None while the work is under way)
    rows: dict[tuple[str, str], tuple[str, bytes | None]] = field(default_factory=dict)

    def claim(self, call: Keyed) -> bytes | None:
        found = self.rows.get((call.tenant, call.key))
        if found is None:
            self.rows[(call.tenant, call.key)] = (call.fingerprint, None)
            return None
        fingerprint, response = found
        if fingerprint != call.fingerprint:
            raise AlreadyExists(
                "this idempotency key was already used with a different request; "
                "use a new key for a new request"
            )
        if response is None:
            raise AlreadyExists("this idempotency key's first request did not complete")
        return response

    def complete(self, call: Keyed, response: bytes) -> None:
        self.rows[(call.tenant, call.key)] = (call.fingerprint, response)
