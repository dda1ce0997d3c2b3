"""Citizen sign-in costs (issue 3): a password sign-in against the bare argon2id
hash it is built on, both at the configured parameters, in one process.

The sign-in is the service layer's ``SignIn.password`` on a real database: the
account lookup, the argon2id verification and the recorded outcome (the same
work the sign-in page does, minus HTML). It runs on threads, as the page does,
with as many in flight as the machine has cores.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.harness import Session
from bench.report import Figure, Target
from services.identity.adapters.passwords import Argon2PasswordHasher
from services.identity.bootstrap import open_identity
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.signin import Outcome
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings

PASSWORD = "correct horse battery staple"
SIGNIN_TARGET = Target("ratio", ">=", 0.85)
THREADS = 2
ROUNDS = 3


def _rate(operation: Callable[[int], object], seconds: float) -> float:
    """Operations per second with ``THREADS`` in flight for about ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        while time.perf_counter() < deadline:
            list(pool.map(operation, range(done, done + THREADS)))
            done += THREADS
    return done / (time.perf_counter() - start)


def password_signin(session: Session) -> list[Figure]:
    with tempfile.TemporaryDirectory() as var:
        platform = PlatformSettings.model_validate({"var_dir": Path(var), "log_level": "WARNING"})
        settings = IdentitySettings.model_validate({"database_url": f"sqlite:///{var}/identity.db"})
        identity = open_identity(platform, settings)
        try:
            emails = [f"bench{i}@example.gov.test" for i in range(THREADS * 4)]
            for email in emails:
                identity.accounts.create(email=email, password=PASSWORD, email_verified=True)
            hasher = Argon2PasswordHasher(
                memory_kib=settings.argon2_memory_kib,
                time_cost=settings.argon2_time_cost,
                parallelism=settings.argon2_parallelism,
            )
            where = Where(ip="127.0.0.1")

            def bare(_: int) -> object:
                return hasher.hash(PASSWORD)

            def sign_in(i: int) -> object:
                attempt = identity.signin.password(emails[i % len(emails)], PASSWORD, where)
                assert attempt.outcome is Outcome.OK
                return attempt

            _rate(bare, session.warmup)
            # Alternate short phases and keep each side's best, so a burst of load
            # from elsewhere on the machine does not land on one side only.
            phase = max(1.0, session.seconds / ROUNDS)
            baseline = rate = 0.0
            for _ in range(ROUNDS):
                baseline = max(baseline, _rate(bare, phase))
                rate = max(rate, _rate(sign_in, phase))
        finally:
            identity.database.close()
    source = (
        f"argon2id hash alone (m={settings.argon2_memory_kib} KiB, "
        f"t={settings.argon2_time_cost}, p={settings.argon2_parallelism})"
    )
    return [
        Figure("signin", "argon2id hash alone", baseline, "hashes/s"),
        Figure(
            "signin",
            "password sign-in",
            rate,
            "sign-ins/s",
            baseline=baseline,
            baseline_source=source,
            target=SIGNIN_TARGET,
        ),
    ]
