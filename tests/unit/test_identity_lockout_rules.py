"""The rules of sign-in lockout and of bounding password hashing, as pure
functions: wrong passwords per address, wrong second factors per account, the
keys counts are stored under, how many argon2id hashes may run at once, and the
gate that holds them to it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.identity.adapters.passwords import hashing_slots
from services.identity.domain.accounts import Account
from services.identity.domain.lockout import LockoutPolicy, address_key, client_key
from services.runtime import container
from services.runtime.work_gate import Busy, Gate

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy(max_attempts=6, lock_for=timedelta(minutes=15), address_attempts=30)


def account() -> Account:
    return Account(
        id="acc_1",
        email="ada@example.gov.test",
        email_verified=True,
        password_hash="x",
        created_at=NOW,
        updated_at=NOW,
    )


# -- wrong passwords, per address ------------------------------------------------------


def test_a_count_locks_at_its_limit_and_starts_again() -> None:
    failures = 0
    for _ in range(5):
        strike = POLICY.strike(failures, 6, NOW)
        assert strike.locked_until is None
        failures = strike.failures
    assert failures == 5
    last = POLICY.strike(failures, 6, NOW)
    assert last.locked_until == NOW + timedelta(minutes=15)
    assert last.failures == 0


def test_keys_hold_no_address_and_ignore_case_and_spaces() -> None:
    assert address_key(" Ada@Example.gov.test ") == address_key("ada@example.gov.test")
    assert "ada" not in address_key("ada@example.gov.test")
    assert client_key("ada@example.gov.test", "10.0.0.1") != client_key(
        "ada@example.gov.test", "10.0.0.2"
    )
    assert client_key("ADA@example.gov.test", None) == client_key("ada@example.gov.test", None)
    assert client_key("ada@example.gov.test", "10.0.0.1") != address_key("ada@example.gov.test")


# -- wrong second factors, per account -----------------------------------------------------


def test_wrong_second_factors_lock_the_account_and_only_a_sign_in_resets_them() -> None:
    current = account()
    for attempt in range(1, 6):
        current = POLICY.after_second_factor_failure(current, NOW)
        assert current.failed_second_factor == attempt
        assert not current.locked(NOW)
    locked = POLICY.after_second_factor_failure(current, NOW)
    assert locked.locked(NOW)
    assert not locked.locked(NOW + timedelta(minutes=15))
    assert locked.failed_second_factor == 0
    assert POLICY.after_sign_in(current).failed_second_factor == 0
    assert POLICY.after_sign_in(account()) == account()


def test_the_policy_has_no_way_for_a_password_to_reset_second_factors() -> None:
    # The only ways to change the second-factor count: a failure, a sign-in, an
    # operator's unlock.
    changes = {n for n in vars(LockoutPolicy) if n.startswith("after_")}
    assert changes == {"after_second_factor_failure", "after_sign_in", "after_unlock"}


def lock_by_wrong_codes(current: Account, at: datetime) -> Account:
    for _ in range(POLICY.max_attempts):
        current = POLICY.after_second_factor_failure(current, at)
    assert current.locked_until is not None
    return current


def test_second_factor_locks_in_a_row_each_last_twice_as_long() -> None:
    current, at = account(), NOW
    lengths = []
    for _ in range(4):
        current = lock_by_wrong_codes(current, at)
        assert current.locked_until is not None
        lengths.append(current.locked_until - at)
        at = current.locked_until  # the attacker comes back as soon as it ends
    assert lengths == [timedelta(minutes=m) for m in (15, 30, 60, 120)]
    assert current.second_factor_locks == 4


def test_second_factor_locks_stop_growing_at_a_day() -> None:
    assert [POLICY.second_factor_lock(n) for n in (7, 8, 9, 100)] == [
        timedelta(minutes=960),
        timedelta(hours=24),
        timedelta(hours=24),
        timedelta(hours=24),
    ]
    assert POLICY.second_factor_lock(10**9) == timedelta(hours=24)  # no overflow
    # A lock configured at a day already never grows, nor shrinks.
    day = LockoutPolicy(lock_for=timedelta(hours=24))
    assert day.second_factor_lock(1) == day.second_factor_lock(5) == timedelta(hours=24)


def test_a_completed_sign_in_or_an_unlock_starts_the_series_again() -> None:
    twice = lock_by_wrong_codes(lock_by_wrong_codes(account(), NOW), NOW + timedelta(minutes=15))
    assert twice.second_factor_locks == 2
    for reset in (POLICY.after_sign_in(twice), LockoutPolicy.after_unlock(twice)):
        assert (reset.second_factor_locks, reset.failed_second_factor) == (0, 0)
        assert not reset.locked(NOW)
        again = lock_by_wrong_codes(reset, NOW + timedelta(hours=2))
        assert again.locked_until == NOW + timedelta(hours=2, minutes=15)
    # Wrong codes short of a lock keep the series: only a sign-in ends it.
    after = POLICY.after_second_factor_failure(twice, NOW + timedelta(hours=1))
    assert after.second_factor_locks == 2


def test_a_wrong_code_after_a_lock_ran_out_is_not_a_lock() -> None:
    locked = lock_by_wrong_codes(account(), NOW)
    later = NOW + timedelta(minutes=15)
    after = POLICY.after_second_factor_failure(locked, later)
    assert after.locked_until is None  # the expired lock is gone, not renewed
    assert (after.failed_second_factor, after.second_factor_locks) == (1, 1)


def test_an_attacker_who_knows_the_password_gets_few_guesses_a_day() -> None:
    """The figure behind the rule: 6 codes every 15 minutes would be 576 a day."""
    current, at, guesses = account(), NOW, []
    while at < NOW + timedelta(days=3):
        current = lock_by_wrong_codes(current, at)
        guesses.append(at)
        assert current.locked_until is not None
        at = current.locked_until
    per_day = [
        POLICY.max_attempts * sum(1 for g in guesses if NOW + d <= g < NOW + d + timedelta(days=1))
        for d in (timedelta(days=0), timedelta(days=1), timedelta(days=2))
    ]
    assert per_day == [42, 6, 6]


# -- how many hashes at once --------------------------------------------------------------

M19 = 19456  # KiB


@pytest.mark.parametrize(
    ("budget_mib", "limit", "cpus", "slots"),
    [
        (80, None, 8, 4),  # the operator's budget: 80 MiB / 19 MiB
        (0, 768 * 2**20, 64, 10),  # a quarter of 768 MiB
        (0, 768 * 2**20, 2, 4),  # never more than 2 per CPU
        (0, None, 3, 6),  # no limit anywhere: 2 per CPU
        (0, 32 * 2**20, 4, 1),  # a tiny container still hashes, one at a time
        (5, 768 * 2**20, 4, 1),
    ],
)
def test_hashing_slots(budget_mib: int, limit: int | None, cpus: int, slots: int) -> None:
    assert hashing_slots(M19, budget_mib=budget_mib, limit_bytes=limit, cpus=cpus) == slots


def test_the_container_memory_limit_is_read_from_cgroup_v2(tmp_path: Path) -> None:
    limit = tmp_path / "memory.max"
    limit.write_text("805306368\n")
    assert container.memory_limit(limit) == 768 * 2**20
    limit.write_text("max\n")
    assert container.memory_limit(limit) is None
    assert container.memory_limit(tmp_path / "absent") is None
    assert container.cpus() >= 1


# -- the gate ------------------------------------------------------------------------------


def test_the_gate_refuses_past_its_slots_and_frees_them() -> None:
    gate = Gate("hashes", 2, wait=0, queue=0)
    with gate.turn(), gate.turn():
        with pytest.raises(Busy) as refused, gate.turn():
            pass
        assert refused.value.retry_after >= 1
    with gate.turn(), gate.turn():
        pass  # both slots back


def test_a_waiter_gets_the_slot_freed_while_it_waits() -> None:
    gate = Gate("hashes", 1, wait=60, queue=1)
    holding = threading.Event()
    release = threading.Event()
    got: list[bool] = []

    def holder() -> None:
        with gate.turn():
            holding.set()
            release.wait()

    def waiter() -> None:
        with gate.turn():
            got.append(True)

    first = threading.Thread(target=holder)
    first.start()
    holding.wait()
    second = threading.Thread(target=waiter)
    second.start()
    # A third caller finds the one waiting place taken: refused at once.
    while gate._waiting == 0:
        threading.Event().wait(0.01)
    with pytest.raises(Busy), gate.turn():
        pass
    release.set()
    first.join()
    second.join()
    assert got == [True]


def test_a_gate_has_a_slot_at_least() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        Gate("hashes", 0)
