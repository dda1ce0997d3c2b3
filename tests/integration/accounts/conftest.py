"""A running platform whose identity mails an SMTP server the tests run, and
helpers to read the codes citizens receive."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.oidc import CitizenBrowser
from tests.support.platform import Platform, free_port, running_platform


@dataclass
class Mailbox:
    """Every message the SMTP server received, by recipient."""

    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0
    _changed: threading.Condition = field(
        default_factory=lambda: threading.Condition(threading.RLock())
    )

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._changed:
            self.messages.append(parsed)
            self._changed.notify_all()
        return "250 OK"

    def to(self, address: str, subject: str | None = None) -> list[EmailMessage]:
        with self._changed:
            return [
                m
                for m in self.messages
                if m["To"] == address and (subject is None or m["Subject"] == subject)
            ]

    def wait_for(
        self, address: str, subject: str | None = None, count: int = 1, timeout: float = 15
    ) -> EmailMessage:
        """Message number ``count`` to ``address`` (with ``subject``); sending is
        asynchronous, so wait for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self.to(address, subject)
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no message {subject!r} number {count} to {address}"
                self._changed.wait(remaining)

    def code(self, address: str, subject: str, count: int = 1) -> str:
        body = text_of(self.wait_for(address, subject, count))
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)


VERIFY = "Your GaaP security code"
RESET = "Reset your GaaP password"
ALREADY = "You already have a GaaP account"
FACTOR_CHANGED = "Your GaaP sign-in security was changed"
PASSWORD_CHANGED = "Your GaaP password was changed"
NEW_DEVICE = "New sign-in to your GaaP account"


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = int(controller.port)
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> Iterator[Platform]:
    with running_platform(
        database_url,
        tmp_path_factory.mktemp("var"),
        smtp_port=mailbox.port,
        # generous: every test in the module shares 127.0.0.1
        posts_per_ip_per_hour=10000,
        sends_per_address_per_hour=3,
    ) as running:
        yield running


@pytest.fixture
def citizen_browser(platform: Platform) -> Iterator[CitizenBrowser]:
    b = CitizenBrowser(platform.identity.http_url)
    yield b
    b.client.close()
