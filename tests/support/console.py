"""The console in this process against a ``running_platform`` (identity with its
real issuer, notify), and a staff member signing in to it over plain HTTP."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pyotp

from services.console import bootstrap
from services.console.settings import ConsoleSettings
from services.devstack.console import CONSOLE_SCOPES
from tests.support.databases import for_service
from tests.support.journey import Citizen, post_form, through_identity
from tests.support.platform import Platform, free_port

PASSWORD = "correct horse battery"
COOKIE = "console_session"


# A staff member signs in as any citizen does.
Person = Citizen


@dataclass
class Console:
    running: bootstrap.RunningConsole
    client_id: str
    platform: Platform

    @property
    def url(self) -> str:
        return self.running.url

    def person(self, name: str) -> Person:
        """A citizen account of identity's (a TOTP code is good for one sign-in only,
        so each sign-in in a test is by a person of its own)."""
        person = Person(
            f"{name}-{secrets.token_hex(4)}@example.com", PASSWORD, pyotp.random_base32()
        )
        self.platform.admin.accounts.create(
            email=person.email,
            password=person.password,
            email_verified=True,
            totp_secret=person.totp_secret,
            given_name=name.title(),
            family_name="Staff",
            locale="en",
        )
        return person


@contextmanager
def running_console(
    platform: Platform, database_url: str, var: Path, operator_emails: str = ""
) -> Iterator[Console]:
    """The console's agency registered at identity, then the console on a free port."""
    address = f"127.0.0.1:{free_port()}"
    url = f"http://{address}"
    created = platform.admin.registry.create(
        name="GaaP console",
        scopes=list(CONSOLE_SCOPES),
        redirect_uris=[url + "/callback"],
        post_logout_redirect_uris=[url + "/"],
    )
    agency_file = var / "console-agency.json"
    agency_file.write_text(
        json.dumps(
            {
                "client_id": created.agency.client_id,
                "client_secret": created.client_secret,
                "token_endpoint": platform.token_url,
            }
        )
    )
    settings = ConsoleSettings(
        http_address=address,
        metrics_address="127.0.0.1:0",
        database_url=for_service(database_url, "console"),
        agency_file=str(agency_file),
        identity_target=platform.identity.grpc_target,
        payments_target=platform.payments.grpc_target,
        notify_target=platform.notify.grpc_target,
        operator_emails=operator_emails,
    )
    running = bootstrap.start(platform.settings, settings)
    try:
        yield Console(running, created.agency.client_id, platform)
    finally:
        running.stop(1)


def sign_in(
    client: httpx.Client, console_url: str, person: Person, path: str = "/"
) -> httpx.Response:
    """From the console's sign-in link, through identity's pages, back to ``path``."""
    redirect = client.get(f"{console_url}/signin", params={"next": path})
    page = through_identity(client, redirect, person)
    assert str(page.url).startswith(console_url + path), (page.url, page.text[:800])
    return page


_SECRET = re.compile(r'id="client-secret">([^<]+)<')
_TEAM = re.compile(r'href="/teams/(team_[0-9a-f]+)" id="team-link"')


def sign_up(client: httpx.Client, console_url: str, name: str) -> tuple[str, str]:
    """Sign up an agency; the team's id and the test client secret shown once."""
    form = client.get(console_url + "/agencies/new")
    done = post_form(client, form, "/agencies/new", name=name)
    assert done.status_code == 200, done.text[:800]
    secret, team = _SECRET.search(done.text), _TEAM.search(done.text)
    assert secret, done.text[:800]
    assert team, done.text[:800]
    return team.group(1), unescape(secret.group(1))
