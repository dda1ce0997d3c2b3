from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyotp
import pytest

from tests.support.oidc import CALLBACK, SIGNED_OUT, CitizenBrowser, RelyingParty
from tests.support.platform import Platform, running_platform

CITIZEN_SCOPES = ["openid", "profile", "email", "phone", "address", "offline_access"]


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
        yield running


@dataclass
class Citizen:
    email: str
    password: str
    totp_secret: str
    account_id: str


def make_citizen(platform: Platform, with_totp: bool = True) -> Citizen:
    secret = pyotp.random_base32()
    email = f"citizen-{secret[:8].lower()}@example.gov.test"
    account = platform.admin.accounts.create(
        email=email,
        password="correct horse battery",
        email_verified=True,
        totp_secret=secret if with_totp else None,
        given_name="Ada",
        family_name="Lovelace",
        phone_number="+447700900001",
        locale="en",
    )
    return Citizen(email, "correct horse battery", secret, account.id)


@pytest.fixture
def citizen(platform: Platform) -> Citizen:
    return make_citizen(platform)


def make_rp(platform: Platform, **oidc: object) -> RelyingParty:
    public = bool(oidc.get("public"))
    created = platform.admin.registry.create(
        name="Parking permits",
        scopes=[*CITIZEN_SCOPES, "payments:create"] if not public else CITIZEN_SCOPES,
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[SIGNED_OUT],
        **oidc,  # type: ignore[arg-type]
    )
    return RelyingParty(platform.identity.http_url, created.agency.client_id, created.client_secret)


@pytest.fixture
def rp(platform: Platform) -> RelyingParty:
    return make_rp(platform)


@pytest.fixture
def citizen_browser(platform: Platform) -> Iterator[CitizenBrowser]:
    b = CitizenBrowser(platform.identity.http_url)
    yield b
    b.client.close()
