"""Staff in Chromium: signing in to the console through identity's pages, and
the invitation email make run's notify leaves in the local mail sink."""

from __future__ import annotations

import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp

from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings
from tests.support.console import PASSWORD, Person
from tests.support.devstack import Devstack

if TYPE_CHECKING:
    from playwright.sync_api import Page


def sign_in_at_identity(page: Page, person: Person | dict[str, str]) -> None:
    """On identity's sign-in page: password, security code, consent if asked."""
    values = person if isinstance(person, dict) else vars(person)
    page.get_by_label("Email address").fill(values["email"])
    page.get_by_label("Password").fill(values["password"])
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Security code").fill(pyotp.TOTP(values["totp_secret"]).now())
    page.get_by_role("button", name="Continue").click()
    allow = page.get_by_role("button", name="Allow", exact=True)
    if allow.count():
        allow.click()


def new_person(stack: Devstack, email: str) -> Person:
    """A citizen account of the running platform's identity."""
    person = Person(email, PASSWORD, pyotp.random_base32())
    identity = open_identity(
        PlatformSettings(issuer=stack.issuer, var_dir=stack.var), IdentitySettings()
    )
    try:
        identity.accounts.create(
            email=person.email,
            password=person.password,
            email_verified=True,
            totp_secret=person.totp_secret,
            given_name="Bo",
            family_name="Staff",
            locale="en",
        )
    finally:
        identity.database.close()
    return person


def invitation_link(mail: Path, email: str, timeout: float = 30) -> str:
    """The link in the invitation emailed to ``email`` (notify's worker delivers it
    to the sink)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for eml in mail.glob("*.eml"):
            message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
            if message["To"] != email:
                continue
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            found = re.search(r"(http://\S+/invitations/[A-Za-z0-9_-]+)", body.get_content())
            assert found, body.get_content()
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no invitation for {email} in {mail}")
