"""argon2id password hashing (argon2-cffi), at or above OWASP's minimum.

OWASP's Password Storage Cheat Sheet: argon2id with m=19 MiB, t=2, p=1 at the
least; we default to m=19 MiB, t=2, p=1 and let operators raise them. Hashes
made with weaker parameters are upgraded at the next successful sign-in.

Every hash and verification holds its memory cost while it runs, and anyone can
start one (a sign-in needs no account), so they take turns through one ``Gate``
per process, sized by ``hashing_slots``: past it a request is refused quickly
(``Busy``) instead of the process running out of memory.
"""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.runtime import container
from services.runtime.work_gate import Gate

MIB = 1024 * 1024
# Without an operator's budget: this share of the container's memory limit.
SHARE_OF_LIMIT = 4
# Hashing is CPU-bound: more at once than this per CPU only adds latency and memory.
PER_CPU = 2


def hashing_slots(
    memory_kib: int,
    *,
    budget_mib: int = 0,
    limit_bytes: int | None = None,
    cpus: int | None = None,
) -> int:
    """How many argon2id hashes of ``memory_kib`` may run at once in a process:
    within ``budget_mib`` (0: a quarter of the container's memory limit, when it
    has one), at most ``PER_CPU`` per CPU, at least one."""
    by_cpu = PER_CPU * (cpus if cpus is not None else container.cpus())
    budget = budget_mib * MIB
    if not budget:
        limit = limit_bytes if limit_bytes is not None else container.memory_limit()
        budget = limit // SHARE_OF_LIMIT if limit else 0
    if not budget:
        return by_cpu
    return max(1, min(by_cpu, budget // (memory_kib * 1024)))


class Argon2PasswordHasher:
    def __init__(
        self,
        *,
        memory_kib: int = 19456,
        time_cost: int = 2,
        parallelism: int = 1,
        gate: Gate | None = None,
    ) -> None:
        self._hasher = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self.gate = gate or Gate("password checks", hashing_slots(memory_kib))
        # A real hash to verify against when the account does not exist, so an
        # unknown email costs the same time as a wrong password.
        self._decoy = self._hasher.hash("not a password of anyone")

    def hash(self, password: str) -> str:
        """Raises ``Busy`` when too many hashes are running in this process."""
        with self.gate.turn():
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Raises ``Busy`` when too many hashes are running in this process."""
        with self.gate.turn():
            try:
                return self._hasher.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def verify_decoy(self, password: str) -> None:
        self.verify(self._decoy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
