"""The console's credentials and sign-in settings pages against real identity,
on SQLite and PostgreSQL: a new secret shown once works at the token endpoint
with the previous one until it is stopped, keys replace secrets, the sign-in
settings reach identity's consent page data, identity's refusals land on the
form, each change is audited, and the roles that may not are refused on the
server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.integration.console.test_console import forged_post, invite_and_accept
from tests.support.console import Console, running_console, sign_in, sign_up
from tests.support.journey import post_form
from tests.support.platform import Platform, running_platform

pytestmark = pytest.mark.slow

_NEW_SECRET = re.compile(r'id="client-secret" value="([^"]+)"')
_AGENCY = re.compile(r"<code>(ag_[0-9a-f]+)</code>")


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var"), real_issuer=True) as p:
        yield p


@pytest.fixture(scope="module")
def console(
    platform: Platform, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    with running_console(platform, database_url, tmp_path_factory.mktemp("console")) as running:
        yield running


def token_status(platform: Platform, agency_id: str, secret: str) -> int:
    return httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials", "scope": "payments:create"},
        auth=(agency_id, secret),
    ).status_code


def test_secrets_rotate_with_overlap_stop_and_give_way_to_keys(
    console: Console, platform: Platform
) -> None:
    with httpx.Client(timeout=30) as admin:
        sign_in(admin, console.url, console.person("ada"))
        team, first = sign_up(admin, console.url, "Parks Agency")
        home = admin.get(f"{console.url}/teams/{team}")
        found = _AGENCY.search(home.text)
        assert found
        agency_id = found.group(1)
        assert f"/teams/{team}/credentials" in home.text
        base = f"{console.url}/teams/{team}/credentials"

        page = admin.get(base)
        assert page.status_code == 200, page.text[:800]
        assert 'id="current-secret"' in page.text
        assert 'id="previous-secret"' not in page.text
        assert token_status(platform, agency_id, first) == 200

        shown = post_form(admin, page, "/credentials/rotate")
        assert shown.status_code == 200, shown.text[:800]
        new = _NEW_SECRET.search(shown.text)
        assert new
        second = unescape(new.group(1))
        assert second.startswith("gaap_test_")
        assert token_status(platform, agency_id, second) == 200
        assert token_status(platform, agency_id, first) == 200  # for 24 hours
        page = admin.get(base)
        assert second not in page.text  # shown once
        assert 'id="previous-secret"' in page.text

        stopped = post_form(admin, page, "/credentials/revoke")
        assert stopped.status_code == 303
        assert token_status(platform, agency_id, first) == 401
        assert token_status(platform, agency_id, second) == 200

        # A bad JWK Set: identity's refusal on the form, nothing changed.
        page = admin.get(base)
        refused = post_form(admin, page, "/credentials/jwks", jwks_json='{"keys": []}')
        assert refused.status_code == 400
        assert 'aria-invalid="true"' in refused.text
        assert token_status(platform, agency_id, second) == 200
        public = ec.generate_private_key(ec.SECP256R1()).public_key()
        keys = json.dumps({"keys": [ECAlgorithm.to_jwk(public, as_dict=True)]})
        uploaded = post_form(admin, page, "/credentials/jwks", jwks_json=keys)
        assert uploaded.status_code == 303
        assert token_status(platform, agency_id, second) == 401  # keys replace secrets
        page = admin.get(base)
        assert 'id="rotate"' not in page.text

        audit = admin.get(f"{console.url}/teams/{team}/audit").text
        for said in (
            "Rotated the client secret",
            "Stopped the previous client secret",
            "Uploaded a JWK Set",
        ):
            assert said in audit
        assert first not in audit
        assert second not in audit


def test_sign_in_settings_reach_identity_and_refusals_land_on_the_form(
    console: Console, platform: Platform
) -> None:
    with httpx.Client(timeout=30) as admin:
        sign_in(admin, console.url, console.person("ada"))
        team, _ = sign_up(admin, console.url, "Parks Agency")
        found = _AGENCY.search(admin.get(f"{console.url}/teams/{team}").text)
        assert found
        base = f"{console.url}/teams/{team}/sign-in-settings"
        page = admin.get(base)
        assert page.status_code == 200, page.text[:800]
        assert "payments:create" in page.text  # scopes, read-only
        refused = post_form(
            admin,
            page,
            "/sign-in-settings",
            redirect_uris="https://parks.example/back\nhttp://parks.example/back",
            post_logout_redirect_uris="",
            display_name="City parks",
            logo_uri="http://parks.example/logo.png",
        )
        assert refused.status_code == 400
        assert 'href="#redirect_uris"' in refused.text
        assert 'href="#logo_uri"' in refused.text
        saved = post_form(
            admin,
            page,
            "/sign-in-settings",
            redirect_uris="https://parks.example/back",
            post_logout_redirect_uris="https://parks.example/bye",
            display_name="City <parks>",
            logo_uri="https://parks.example/logo.png",
        )
        assert saved.status_code == 303
        agency = platform.admin.registry.get(found.group(1))
        assert agency.redirect_uris == ("https://parks.example/back",)
        assert agency.post_logout_redirect_uris == ("https://parks.example/bye",)
        assert (agency.display_name, agency.logo_uri) == (
            "City <parks>",
            "https://parks.example/logo.png",
        )
        again = admin.get(base + "?saved=1")
        assert 'id="saved"' in again.text
        assert "City &lt;parks&gt;" in again.text
        assert "Changed the sign-in settings" in admin.get(f"{console.url}/teams/{team}/audit").text


def test_roles_that_may_not_are_refused_on_the_server(console: Console, platform: Platform) -> None:
    with (
        httpx.Client(timeout=30) as admin,
        httpx.Client(timeout=30) as developer,
        httpx.Client(timeout=30) as viewer,
    ):
        sign_in(admin, console.url, console.person("ada"))
        team, secret = sign_up(admin, console.url, "Parks Agency")
        invite_and_accept(console, admin, team, "developer", developer)
        invite_and_accept(console, admin, team, "viewer", viewer)
        credentials = f"/teams/{team}/credentials"
        settings = f"/teams/{team}/sign-in-settings"

        # A developer manages credentials, not the sign-in settings.
        assert developer.get(console.url + credentials).status_code == 200
        assert developer.get(console.url + settings).status_code == 403
        refused = forged_post(developer, console, settings, redirect_uris="https://evil.example/cb")
        assert refused.status_code == 403
        # A viewer neither, whatever it posts.
        assert viewer.get(console.url + credentials).status_code == 403
        for path in ("/rotate", "/revoke", "/jwks"):
            assert forged_post(viewer, console, credentials + path).status_code == 403
        home = viewer.get(f"{console.url}/teams/{team}").text
        assert credentials not in home
        found = _AGENCY.search(admin.get(f"{console.url}/teams/{team}").text)
        assert found
        assert token_status(platform, found.group(1), secret) == 200  # nothing rotated
        assert platform.admin.registry.get(found.group(1)).redirect_uris == ()
