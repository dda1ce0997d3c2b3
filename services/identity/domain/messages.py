"""The messages identity sends citizens, in English and Simplified Chinese.

Placeholders use notify's syntax, ``((name))``, so the same text becomes a
notify template (notify adapter) or is filled in here (SMTP adapter). Never
put a code or link in a log: only the message kind is ever logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

LANGUAGES = ("en", "zh-Hans")
_PLACEHOLDER = re.compile(r"\(\(([a-z_]+)\)\)")


class Kind(StrEnum):
    VERIFY_EMAIL = "verify_email"
    ALREADY_REGISTERED = "already_registered"
    RESET_CODE = "reset_code"
    PHONE_CODE = "phone_code"
    NEW_DEVICE = "new_device"
    PASSWORD_CHANGED = "password_changed"
    FACTOR_CHANGED = "factor_changed"
    ACCOUNT_LOCKED = "account_locked"


SMS_KINDS = frozenset({Kind.PHONE_CODE})


@dataclass(frozen=True)
class Text:
    subject: str  # empty for SMS
    body: str


TEMPLATES: Mapping[Kind, Mapping[str, Text]] = {
    Kind.VERIFY_EMAIL: {
        "en": Text(
            "Your GaaP security code",
            "Your security code is ((code)).\n\n"
            "Enter it on the page where you are creating your GaaP account. "
            "It expires in ((minutes)) minutes.\n\n"
            "If you did not ask for this, you can ignore this email.",
        ),
        "zh-Hans": Text(
            "您的 GaaP 安全验证码",
            "您的安全验证码是 ((code))。\n\n"
            "请在创建 GaaP 账户的页面上输入此验证码。验证码将在 ((minutes)) 分钟后失效。\n\n"
            "如果这不是您本人的操作，请忽略此邮件。",
        ),
    },
    Kind.ALREADY_REGISTERED: {
        "en": Text(
            "You already have a GaaP account",
            "Someone tried to create a GaaP account with this email address, "
            "but you already have one.\n\n"
            "If it was you, sign in instead. If you have forgotten your password, "
            "use 'Forgot your password?' on the sign-in page.\n\n"
            "If it was not you, you do not need to do anything.",
        ),
        "zh-Hans": Text(
            "您已有 GaaP 账户",
            "有人尝试使用此电子邮件地址创建 GaaP 账户，但您已经有一个账户。\n\n"
            "如果是您本人，请直接登录。如果您忘记了密码，请在登录页面使用“忘记密码？”。\n\n"
            "如果不是您本人，您无需进行任何操作。",
        ),
    },
    Kind.RESET_CODE: {
        "en": Text(
            "Reset your GaaP password",
            "Your code to reset your password is ((code)).\n\n"
            "It expires in ((minutes)) minutes. "
            "If you did not ask to reset your password, you can ignore this email: "
            "your password has not changed.",
        ),
        "zh-Hans": Text(
            "重置您的 GaaP 密码",
            "您的密码重置验证码是 ((code))。\n\n"
            "验证码将在 ((minutes)) 分钟后失效。"
            "如果您没有申请重置密码，请忽略此邮件：您的密码没有改变。",
        ),
    },
    Kind.PHONE_CODE: {
        "en": Text("", "Your GaaP security code is ((code)). It expires in ((minutes)) minutes."),
        "zh-Hans": Text("", "您的 GaaP 安全验证码是 ((code))，((minutes)) 分钟内有效。"),
    },
    Kind.NEW_DEVICE: {
        "en": Text(
            "New sign-in to your GaaP account",
            "Your GaaP account was signed in to from a new device at ((time)) (UTC).\n\n"
            "If this was you, you do not need to do anything. If it was not, "
            "change your password and sign out everywhere from your account page.",
        ),
        "zh-Hans": Text(
            "您的 GaaP 账户有新的登录",
            "您的 GaaP 账户于 ((time))（UTC）在一台新设备上登录。\n\n"
            "如果是您本人，您无需进行任何操作。如果不是，请在账户页面更改密码并在所有设备上退出登录。",
        ),
    },
    Kind.PASSWORD_CHANGED: {
        "en": Text(
            "Your GaaP password was changed",
            "The password of your GaaP account was changed at ((time)) (UTC).\n\n"
            "If this was not you, reset your password now using "
            "'Forgot your password?' on the sign-in page.",
        ),
        "zh-Hans": Text(
            "您的 GaaP 密码已更改",
            "您的 GaaP 账户密码已于 ((time))（UTC）更改。\n\n"
            "如果不是您本人，请立即在登录页面使用“忘记密码？”重置密码。",
        ),
    },
    Kind.FACTOR_CHANGED: {
        "en": Text(
            "Your GaaP sign-in security was changed",
            "The second way you prove who you are when you sign in to GaaP "
            "(((factor))) was changed at ((time)) (UTC).\n\n"
            "If this was not you, reset your password and contact the service desk.",
        ),
        "zh-Hans": Text(
            "您的 GaaP 登录安全设置已更改",
            "您登录 GaaP 时用于第二步验证的方式（((factor))）已于 ((time))（UTC）更改。\n\n"
            "如果不是您本人，请重置密码并联系服务台。",
        ),
    },
    Kind.ACCOUNT_LOCKED: {
        "en": Text(
            "Your GaaP account is locked",
            "Someone signing in to your GaaP account entered the wrong security code "
            "too many times at ((time)) (UTC), so the account is locked until ((until)) "
            "(UTC).\n\n"
            "Whoever it was knew your password. If this was not you, reset your password "
            "now using 'Forgot your password?' on the sign-in page, and contact the "
            "service desk.",
        ),
        "zh-Hans": Text(
            "您的 GaaP 账户已被锁定",
            "有人在登录您的 GaaP 账户时于 ((time))（UTC）多次输入了错误的安全验证码，"
            "因此该账户已被锁定至 ((until))（UTC）。\n\n"
            "此人知道您的密码。如果不是您本人，请立即在登录页面使用“忘记密码？”重置密码，"
            "并联系服务台。",
        ),
    },
}

FACTOR_NAMES: Mapping[str, Mapping[str, str]] = {
    "totp": {"en": "authenticator app", "zh-Hans": "身份验证器应用"},
    "sms": {"en": "text message", "zh-Hans": "短信"},
    "recovery_codes": {"en": "recovery codes", "zh-Hans": "恢复码"},
}


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def language_of(tag: str | None) -> str:
    return "zh-Hans" if tag and tag.lower().startswith("zh") else "en"


def render(kind: Kind, language: str, values: Mapping[str, str]) -> Text:
    """The message filled in; a missing value is a bug, so it raises KeyError."""
    text = TEMPLATES[kind][language_of(language)]

    def fill(part: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], part)

    return Text(fill(text.subject), fill(text.body))


class Messenger(Protocol):
    """Sends one message to a citizen (an email address, or a phone number for SMS
    kinds). Raises on failure; callers decide whether to retry."""

    def send(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> None: ...
