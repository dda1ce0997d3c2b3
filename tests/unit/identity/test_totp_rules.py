"""Authenticator codes (RFC 6238): which time steps a code is accepted for, how it
may be typed, replay refusal, and the enrolment URI the citizen's app scans."""

from __future__ import annotations

import pyotp
import pytest

from services.identity.domain import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_750_000_005.0  # 5 seconds into step 58_333_333
STEP = 58_333_333


def code_at(step: int) -> str:
    return pyotp.TOTP(SECRET).generate_otp(step)


def test_the_step_is_the_unix_time_in_30_second_steps() -> None:
    assert int(NOW) // 30 == STEP
    assert totp.matching_step(SECRET, code_at(STEP), NOW, None) == STEP
    # The last instant of a step is still that step, the next one the next.
    assert totp.matching_step(SECRET, code_at(STEP), STEP * 30 + 29.999, None) == STEP
    assert totp.matching_step(SECRET, code_at(STEP + 2), (STEP + 1) * 30.0, None) == STEP + 2


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_one_step_of_drift_either_way_and_no_more(offset: int, accepted: bool) -> None:
    found = totp.matching_step(SECRET, code_at(STEP + offset), NOW, None)
    assert found == (STEP + offset if accepted else None)


def test_a_step_already_used_is_refused_and_a_later_one_accepted() -> None:
    assert totp.matching_step(SECRET, code_at(STEP), NOW, STEP) is None
    assert totp.matching_step(SECRET, code_at(STEP - 1), NOW, STEP - 1) is None
    assert totp.matching_step(SECRET, code_at(STEP), NOW, STEP - 1) == STEP
    assert totp.matching_step(SECRET, code_at(STEP + 1), NOW, STEP) == STEP + 1


def test_spaces_around_and_inside_the_code_are_ignored() -> None:
    code = code_at(STEP)
    assert totp.matching_step(SECRET, f" {code[:3]} {code[3:]} ", NOW, None) == STEP


@pytest.mark.parametrize(
    "typed",
    ["", "12345", "1234567", "12345a", "abcdef", "abcdéf", "12-456"],
    ids=["empty", "five", "seven", "letter", "letters", "non-ascii", "dash"],
)
def test_anything_but_six_digits_is_refused_without_comparing(typed: str) -> None:
    assert totp.matching_step(SECRET, typed, NOW, None) is None


def test_the_provisioning_uri_names_gaap_and_the_citizen() -> None:
    assert totp.provisioning_uri(SECRET, "citizen@example.com") == (
        f"otpauth://totp/GaaP:citizen%40example.com?secret={SECRET}&issuer=GaaP"
    )
    assert totp.provisioning_uri(SECRET, "a@b.example", issuer_name="GaaP test") == (
        f"otpauth://totp/GaaP%20test:a%40b.example?secret={SECRET}&issuer=GaaP%20test"
    )


def test_new_secrets_are_base32_and_each_its_own() -> None:
    first, second = totp.new_secret(), totp.new_secret()
    assert first != second
    assert len(first) == 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
