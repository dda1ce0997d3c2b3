"""What the resident received: the local SMTP and SMS sinks' files under ``var/``.

Only ``make run``'s sinks write these; a real agency has no such view. Messages
are shown to the signed-in resident only when addressed to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

LIMIT = 50


@dataclass(frozen=True)
class Received:
    channel: str  # "email" or "sms"
    time: datetime
    to: str
    subject: str
    body: str
    language: str
    file: str


def read_mail(directory: Path, addresses: set[str]) -> list[Received]:
    found: list[Received] = []
    for path in sorted(directory.glob("*.eml"), reverse=True)[: LIMIT * 20]:
        try:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        except (OSError, ValueError):
            continue
        assert isinstance(message, EmailMessage)
        to = [a.lower() for _, a in getaddresses(message.get_all("To", []))]
        if not addresses & set(to):
            continue
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        body = text.get_content() if text is not None else ""
        language = _html_lang(html.get_content() if html is not None else "")
        try:
            when = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            when = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        found.append(
            Received(
                "email",
                when,
                ", ".join(to),
                str(message["Subject"] or ""),
                body,
                language,
                path.name,
            )
        )
    return found[:LIMIT]


def read_sms(directory: Path, numbers: set[str]) -> list[Received]:
    found: list[Received] = []
    for path in sorted(directory.glob("*.json"), reverse=True)[: LIMIT * 20]:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        to = str(record.get("to", ""))
        if to not in numbers:
            continue
        when = datetime.fromtimestamp(float(record.get("received_at", 0)), UTC)
        found.append(Received("sms", when, to, "", str(record.get("body", "")), "", path.name))
    return found[:LIMIT]


def _html_lang(html: str) -> str:
    marker = 'lang="'
    start = html.find(marker)
    if start < 0:
        return ""
    end = html.find('"', start + len(marker))
    return html[start + len(marker) : end]


def e164(phone: str) -> str:
    """A UK number as the SMS gateway records it (notify sends E.164)."""
    digits = "".join(c for c in phone if c.isdigit() or c == "+")
    if digits.startswith("+"):
        return digits
    if digits.startswith("0"):
        return "+44" + digits[1:]
    return "+" + digits
