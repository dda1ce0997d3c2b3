"""The small rules behind sign-in's safeguards, at their edges: lockout keys and lock
series, one-time codes and tickets, what a request asks to disclose, the language of
security messages, passwords like the address, phone input length, scopes' services and
signing keys at the instant they switch."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.identity.domain import messages, one_time_codes, password_policy, scopes
from services.identity.domain.accounts import Account
from services.identity.domain.disclosure import Disclosure
from services.identity.domain.lockout import LockoutPolicy, address_key, client_key
from services.identity.domain.password_policy import PasswordProblem
from services.identity.domain.phone_numbers import MAX_INPUT, PhoneProblem
from services.identity.domain.phone_numbers import parse as parse_phone
from services.identity.domain.signing_keys import generate, rotate, status
from services.identity.domain.throttle import Rule


def account(now: datetime, **fields: object) -> Account:
    return Account(
        id="acc_1",
        email="citizen@example.com",
        email_verified=True,
        password_hash="hash",
        created_at=now,
        updated_at=now,
        **fields,  # type: ignore[arg-type]
    )


# --- lockout -----------------------------------------------------------------------------


def test_count_keys_are_hashes_of_the_normalised_address() -> None:
    expected = hashlib.sha256(b"citizen@example.com").hexdigest()
    assert address_key(" Citizen@Example.COM ") == expected
    assert address_key("citizen@example.com") == expected


def test_client_keys_are_per_address_and_client_with_unknown_clients_together() -> None:
    assert client_key(" Citizen@Example.COM", "203.0.113.7") == (
        hashlib.sha256(b"citizen@example.com\x00203.0.113.7").hexdigest()
    )
    unknown = hashlib.sha256(b"citizen@example.com\x00unknown").hexdigest()
    assert client_key("CITIZEN@example.com", None) == unknown
    assert client_key("citizen@example.com", "") == unknown


def test_lock_series_stop_doubling_at_the_longest_lock() -> None:
    policy = LockoutPolicy(lock_for=timedelta(minutes=15), longest_lock=timedelta(hours=1))
    assert [policy.second_factor_lock(n) for n in (1, 2, 3, 4, 50)] == [
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


def test_a_lock_series_reaching_the_largest_cap_never_overflows() -> None:
    """Doubling stops once the cap is reached, not one step later: with a cap that
    is half of what ``timedelta`` can hold or more, one more doubling would overflow."""
    cap = timedelta(seconds=900 * 2**36)
    with pytest.raises(OverflowError):
        _ = cap * 2  # doubling the cap itself is out of range
    policy = LockoutPolicy(lock_for=timedelta(seconds=900), longest_lock=cap)
    assert policy.second_factor_lock(37) == cap
    assert policy.second_factor_lock(40) == cap


@pytest.mark.parametrize(
    "fields",
    [
        {"second_factor_locks": 1},
        {"second_factor_locks": 2},
        {"failed_second_factor": 1},
        {"locked_until": datetime(2025, 6, 2)},
    ],
    ids=["one-lock", "two-locks", "one-failure", "locked"],
)
def test_an_unlock_clears_the_count_the_series_and_the_lock(
    now: datetime, fields: dict[str, object]
) -> None:
    unlocked = LockoutPolicy.after_unlock(account(now, **fields))
    assert (unlocked.failed_second_factor, unlocked.second_factor_locks) == (0, 0)
    assert unlocked.locked_until is None
    assert LockoutPolicy.after_sign_in(account(now, **fields)) == unlocked


def test_an_unlock_of_a_clear_account_changes_nothing(now: datetime) -> None:
    clear = account(now)
    assert LockoutPolicy.after_unlock(clear) is clear


# --- one-time codes ----------------------------------------------------------------------


@pytest.mark.parametrize(("drawn", "code"), [(0, "000000"), (42, "000042"), (-1, "999999")])
def test_codes_are_drawn_from_all_million_six_digit_values(
    monkeypatch: pytest.MonkeyPatch, drawn: int, code: str
) -> None:
    bounds: list[int] = []

    def randbelow(bound: int) -> int:
        bounds.append(bound)
        return drawn % bound

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    assert one_time_codes.new_code() == code
    assert bounds == [1_000_000]


def test_ticket_ids_are_tkt_and_192_random_bits() -> None:
    first, second = one_time_codes.new_ticket_id(), one_time_codes.new_ticket_id()
    assert first != second
    assert re.fullmatch(r"tkt_[A-Za-z0-9_-]{32}", first)


# --- what an authorization request asks to disclose -------------------------------------


@pytest.mark.parametrize("member", ["id_token", "userinfo"])
def test_a_claim_asked_for_in_either_member_is_asked(member: str) -> None:
    asked = Disclosure.asked_by(["openid"], {member: {"email": None, "acr": None}})
    assert asked == Disclosure(frozenset({"openid"}), frozenset({"email"}))


def test_claims_asked_in_both_members_add_up() -> None:
    asked = Disclosure.asked_by(
        ["openid"], {"id_token": {"email": None}, "userinfo": {"phone_number": None}}
    )
    assert asked == Disclosure(frozenset({"openid"}), frozenset({"email", "phone_number"}))
    assert Disclosure.asked_by(["openid"], None) == Disclosure(frozenset({"openid"}))


# --- security messages' language ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("en", "en"),
        ("en-GB", "en"),
        ("cy", "en"),
        ("zh", "zh-Hans"),
        ("zh-Hans", "zh-Hans"),
        ("ZH-CN", "zh-Hans"),
    ],
)
def test_security_messages_are_in_chinese_only_for_chinese_tags(
    tag: str | None, language: str
) -> None:
    assert messages.language_of(tag) == language


# --- passwords like the address ----------------------------------------------------------


def test_a_password_like_the_part_before_the_first_at_is_refused() -> None:
    email = "kate.smith@mail@example.com"  # as typed: the page checks both fields at once
    assert password_policy.problem("Kate.Smith", email) is PasswordProblem.LIKE_EMAIL
    assert password_policy.problem("kate.smith@mail", email) is None


# --- phone input length ------------------------------------------------------------------


def test_phone_input_of_the_maximum_length_is_read_and_longer_is_refused() -> None:
    longest = "+44 7911" + "-" * 26 + "123456"
    assert len(longest) == MAX_INPUT
    assert parse_phone(longest, "gb") == "+447911123456"
    assert parse_phone(longest.replace("-", "--", 1), "gb") is PhoneProblem.INVALID


# --- scopes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "service"),
    [("payments:read", "payments"), ("identity:tokens", "identity"), ("a:b:c", "a")],
)
def test_a_scopes_service_is_what_comes_before_its_first_colon(scope: str, service: str) -> None:
    assert scopes.service_of(scope) == service


# --- signing keys at the instant they switch ---------------------------------------------


def test_a_key_that_retires_as_it_activates_is_retired(now: datetime) -> None:
    key = generate("ES256", now - timedelta(hours=1))
    degenerate = key.__class__(
        **{**key.__dict__, "activates_at": now, "retires_at": now, "expires_at": now + timedelta(1)}
    )
    assert status(degenerate, now) == "retired"
    assert status(degenerate, now - timedelta(seconds=1)) == "pending"


def test_a_key_that_started_signing_this_instant_can_be_rotated(now: datetime) -> None:
    key = generate("ES256", now)
    assert key.activates_at == now
    rotation = rotate(
        [key], "ES256", now, propagation=timedelta(hours=1), longest_token=timedelta(hours=2)
    )
    assert rotation.retired.kid == key.kid
    assert rotation.retired.retires_at == now + timedelta(hours=1)
    assert rotation.new.activates_at == now + timedelta(hours=1)


# --- new signing keys and throttle keys ------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_new_keys_kid_is_its_day_and_48_random_bits(now: datetime, alg: str) -> None:
    kids = {generate(alg, now).kid for _ in range(2)}
    assert len(kids) == 2
    for kid in kids:
        assert re.fullmatch(r"20250601-[0-9a-f]{12}", kid)


def test_new_rsa_keys_are_3072_bits(now: datetime) -> None:
    key = generate("PS256", now)
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 3072
    assert key.public_jwk["alg"] == "PS256"
    assert key.public_jwk["kid"] == key.kid


def test_throttle_keys_hold_the_rule_and_128_bits_of_the_subjects_hash() -> None:
    rule = Rule("signin-address", limit=10, window=timedelta(minutes=15))
    digest = hashlib.sha256(b"citizen@example.com").hexdigest()
    assert rule.key("citizen@example.com") == f"signin-address:{digest[:32]}"
