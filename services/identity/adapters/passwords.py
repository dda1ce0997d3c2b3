"""argon2id password hashing (argon2-cffi), at or above OWASP's minimum.

OWASP's Password Storage Cheat Sheet: argon2id with m=19 MiB, t=2, p=1 at the
least; we default to m=19 MiB, t=2, p=1 and let operators raise them. Hashes
made with weaker parameters are upgraded at the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2PasswordHasher:
    def __init__(
        self, *, memory_kib: int = 19456, time_cost: int = 2, parallelism: int = 1
    ) -> None:
        self._hasher = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # A real hash to verify against when the account does not exist, so an
        # unknown email costs the same time as a wrong password.
        self._decoy = self._hasher.hash("not a password of anyone")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_decoy(self, password: str) -> None:
        self.verify(self._decoy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
