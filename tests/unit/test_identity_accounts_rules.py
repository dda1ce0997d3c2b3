"""The rules of citizen accounts, as pure functions: passwords, one-time codes,
recovery codes, throttling windows, message templates and the page catalogue."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from services.identity.domain import messages, one_time_codes, password_policy, recovery_codes
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Check, CodePolicy, Purpose, Ticket
from services.identity.domain.password_policy import PasswordProblem
from services.identity.domain.throttle import Rule
from services.identity.web import texts

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
KEY = b"k" * 32
WEB = Path(__file__).parents[2] / "services" / "identity" / "web"


# -- passwords -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", PasswordProblem.MISSING),
        ("1234567", PasswordProblem.TOO_SHORT),
        ("x" * 257, PasswordProblem.TOO_LONG),
        ("password", PasswordProblem.COMMON),
        ("Password123", PasswordProblem.COMMON),
        ("qwertyuiop", PasswordProblem.COMMON),
        ("iloveyou2019", PasswordProblem.COMMON),
        ("11111111", PasswordProblem.COMMON),
        ("ada.lovelace@example.org", PasswordProblem.LIKE_EMAIL),
        ("Ada.Lovelace", PasswordProblem.LIKE_EMAIL),
        ("correct horse battery", None),
        ("x" * 256, None),
        ("8chars!x", None),
    ],
)
def test_password_rules(password: str, problem: PasswordProblem | None) -> None:
    assert password_policy.problem(password, "ada.lovelace@example.org") is problem


def test_the_shipped_list_holds_thousands_of_common_passwords() -> None:
    common = password_policy.common_passwords()
    assert len(common) > 5000
    assert {"123456", "password", "qwerty", "letmein", "1q2w3e4r", "iloveyou"} <= common
    assert all(p == p.lower() for p in common)


# -- one-time codes ------------------------------------------------------------------------


def ticket(**changes: object) -> Ticket:
    base = Ticket(
        id="tkt_x",
        purpose=Purpose.REGISTER,
        email="a@example.org",
        code_hash="h",
        browser_hash="b",
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "matches", "now", "expected"),
    [
        ({}, True, NOW, Check.OK),
        ({}, False, NOW, Check.WRONG),
        ({}, True, NOW + timedelta(minutes=15), Check.EXPIRED),
        ({"used_at": NOW}, True, NOW, Check.USED),
        ({"verified_at": NOW}, True, NOW, Check.USED),
        ({"attempts": 5}, True, NOW, Check.EXHAUSTED),
        ({"attempts": 4}, True, NOW, Check.OK),
    ],
)
def test_code_judgement(
    changes: dict[str, object], matches: bool, now: datetime, expected: Check
) -> None:
    assert one_time_codes.judge(ticket(**changes), matches, now, CodePolicy()) is expected


def test_codes_are_six_digits_and_hashed_with_a_key_and_the_ticket() -> None:
    code = one_time_codes.new_code()
    assert one_time_codes.well_formed(code)
    assert one_time_codes.well_formed("123 456")
    assert not one_time_codes.well_formed("12345")
    assert not one_time_codes.well_formed("١٢٣٤٥٦")  # non-ASCII digits
    digest = one_time_codes.digest(KEY, "tkt_a", code)
    assert code not in digest
    assert digest == one_time_codes.digest(KEY, "tkt_a", f" {code[:3]}-{code[3:]}")
    assert digest != one_time_codes.digest(KEY, "tkt_b", code)
    assert digest != one_time_codes.digest(b"other key", "tkt_a", code)


# -- recovery codes --------------------------------------------------------------------------


def test_recovery_codes_are_distinct_unambiguous_and_forgiving_to_type() -> None:
    codes = recovery_codes.generate()
    assert len(set(codes)) == recovery_codes.COUNT
    for code in codes:
        assert re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code)
        assert not set(code) & set("01ilo")
    code = codes[0]
    typed = f" {code.upper().replace('-', ' ')} "
    assert recovery_codes.digest(KEY, "acc", typed) == recovery_codes.digest(KEY, "acc", code)
    assert recovery_codes.digest(KEY, "acc", code) != recovery_codes.digest(KEY, "acc2", code)
    assert not recovery_codes.well_formed("abc")


# -- throttling ------------------------------------------------------------------------------


def test_a_throttle_window_is_aligned_and_says_how_long_to_wait() -> None:
    rule = Rule("posts", 3, timedelta(hours=1))
    at = NOW + timedelta(minutes=20)
    assert rule.window_start(at) == NOW
    assert rule.retry_after(at) == timedelta(minutes=40)
    assert rule.key("198.51.100.7") == rule.key("198.51.100.7")
    assert "198.51.100.7" not in rule.key("198.51.100.7")


# -- messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_every_message_exists_in_both_languages_with_the_same_placeholders(kind: Kind) -> None:
    texts_by_language = messages.TEMPLATES[kind]
    assert set(texts_by_language) == set(messages.LANGUAGES)
    english = texts_by_language["en"]
    for text in texts_by_language.values():
        assert messages.placeholders(text.subject + text.body) == messages.placeholders(
            english.subject + english.body
        )
        assert bool(text.subject) == (kind not in messages.SMS_KINDS)


def test_messages_render_in_the_language_asked_for() -> None:
    values = {"code": "123456", "minutes": "15"}
    english = messages.render(Kind.VERIFY_EMAIL, "en-GB", values)
    chinese = messages.render(Kind.VERIFY_EMAIL, "zh-Hans", values)
    assert "123456" in english.body
    assert "123456" in chinese.body
    assert chinese.subject == "您的 GaaP 安全验证码"
    assert "((" not in english.body
    with pytest.raises(KeyError):
        messages.render(Kind.VERIFY_EMAIL, "en", {"code": "1"})


# -- the page catalogue --------------------------------------------------------------------------


def catalogue() -> dict[str, str]:
    with (WEB / "locales" / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        own = {m.id: m.string for m in read_po(f) if m.id}
    toolkit = Path(__file__).parents[2] / "services" / "runtime" / "pages" / "locales"
    with (toolkit / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        own.update({m.id: m.string for m in read_po(f) if m.id})
    return own  # type: ignore[return-value]


def test_every_string_of_the_pages_is_translated() -> None:
    translated = catalogue()
    wanted = [v for k, v in vars(texts).items() if k.isupper() and isinstance(v, str)]
    for template in (WEB / "templates").glob("*.html"):
        source = template.read_text()
        wanted += re.findall(r'_\(\s*"([^"]+)"', source) + re.findall(r"_\(\s*'([^']+)'", source)
    missing = sorted({w for w in wanted if not translated.get(w)})
    assert missing == []


def test_templates_hold_no_text_outside_the_catalogue() -> None:
    for name in ("register.html", "account.html", "authenticator.html", "email_code.html"):
        source = (WEB / "templates" / name).read_text()
        without = re.sub(r"{%.*?%}|{{.*?}}|<[^>]+>", "", source, flags=re.S)
        assert re.sub(r"[\s|()]+", "", without) == "", name
