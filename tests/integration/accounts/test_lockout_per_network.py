"""The password lockout per (email address, client) counts an IPv6 client by
its /64: stepping to another address of the same /64 does not buy fresh
guesses, while another network keeps its own count. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.bootstrap import open_identity
from services.identity.domain.lockout import LockoutPolicy
from services.identity.service_layer.password_lockout import PasswordLockout
from services.identity.settings import IdentitySettings
from tests.support.platform import settings_for

EMAIL = "rotating@example.gov.test"
# The per-address lock far away: only the per-client count can lock here.
POLICY = LockoutPolicy(max_attempts=3, address_attempts=1000)


@pytest.fixture(scope="module")
def sessions(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    identity = open_identity(
        settings_for(tmp_path_factory.mktemp("lockout")),
        IdentitySettings(database_url=database_url),
    )
    yield identity.database.sessions
    identity.database.close()


def test_wrong_passwords_from_one_64_lock_every_address_in_it(
    sessions: sessionmaker[Session],
) -> None:
    lockout = PasswordLockout(identity_transactions(sessions), POLICY)
    rotating = [f"2001:db8:77:1::{n:x}" for n in range(1, POLICY.max_attempts + 1)]
    locked = [lockout.failure(EMAIL, address) for address in rotating]
    assert locked == [False] * (POLICY.max_attempts - 1) + [True]
    assert lockout.locked(EMAIL, "2001:db8:77:1:ffff::1")  # a fresh address, same /64
    assert not lockout.locked(EMAIL, "2001:db8:77:2::1")  # another network
    assert not lockout.locked(EMAIL, "203.0.113.50")
