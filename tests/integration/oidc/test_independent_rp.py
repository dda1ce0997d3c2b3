"""An OpenID Connect relying-party library the service does not use itself
(idpyoidc) drives discovery, the code flow with PKCE, the token exchange,
ID-token validation, UserInfo and refresh against identity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from idpyoidc.client.rp_handler import RPHandler

from tests.support.oidc import CitizenBrowser
from tests.support.platform import Platform, running_platform

REDIRECT = "https://rp.example.gov/idpy/callback"
SERVICES = {
    name: {"class": f"idpyoidc.client.oidc.{module}"}
    for name, module in {
        "discovery": "provider_info_discovery.ProviderInfoDiscovery",
        "authorization": "authorization.Authorization",
        "access_token": "access_token.AccessToken",
        "refresh_access_token": "refresh_access_token.RefreshAccessToken",
        "userinfo": "userinfo.UserInfo",
    }.items()
}


@pytest.fixture(scope="module")
def real_platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var"), real_issuer=True) as p:
        yield p


def test_idpyoidc_relying_party_end_to_end(
    real_platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the library writes its own key files to the working folder
    issuer = real_platform.settings.issuer
    created = real_platform.admin.registry.create(
        name="Independent RP",
        scopes=["openid", "profile", "email", "offline_access"],
        redirect_uris=[REDIRECT],
    )
    real_platform.admin.accounts.create(
        email="idpy.citizen@example.gov.test",
        password="correct horse battery",
        email_verified=True,
        given_name="Grace",
        family_name="Hopper",
    )
    handler = RPHandler(
        base_url="https://rp.example.gov",
        client_configs={
            "gaap": {
                "issuer": issuer,
                "client_id": created.agency.client_id,
                "client_secret": created.client_secret,
                "redirect_uris": [REDIRECT],
                "client_type": "oidc",
                # The library's refresh service has no authentication method of its own.
                "client_authn_methods": ["client_secret_basic"],
                "services": SERVICES,
                "behaviour": {
                    "response_types": ["code"],
                    "scope": ["openid", "profile", "email", "offline_access"],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
                "add_ons": {
                    "pkce": {
                        "function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                        "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"},
                    }
                },
            }
        },
    )
    url = handler.begin(
        issuer_id="gaap", req_args={"scope": ["openid", "profile", "email", "offline_access"]}
    )
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]  # the library sent PKCE, as we require

    browser = CitizenBrowser(issuer)
    response = browser.sign_in(
        url, "idpy.citizen@example.gov.test", "correct horse battery", stop_at=REDIRECT
    )
    callback = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    result = handler.finalize(issuer, callback)  # token exchange, ID token checks, UserInfo

    id_token = result["id_token"]
    assert id_token["iss"] == issuer
    assert id_token["aud"] == [created.agency.client_id]
    assert id_token["acr"] == "Cl"
    userinfo = result["userinfo"]
    assert userinfo["sub"] == id_token["sub"]
    assert userinfo["email"] == "idpy.citizen@example.gov.test"
    assert userinfo["given_name"] == "Grace"

    refreshed = handler.refresh_access_token(result["state"])
    assert refreshed["access_token"] != result["token"]
    assert refreshed["refresh_token"]


def test_idpyoidc_relying_party_through_a_pushed_authorization_request(
    real_platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """idpyoidc discovers the PAR endpoint, builds the request (PKCE, state,
    nonce), and checks everything that comes back (state, the ID token's nonce,
    issuer and signature, UserInfo) for an agency that must push.

    Its own PAR add-on (``add_on.par``) is not usable against an RFC 9126 server:
    it takes only 200 as success where §2.2 says 201, and always wraps the
    request in a request object with an empty ``iss`` and no ``aud`` or ``exp``,
    which identity refuses (RFC 9101 §4; the FAPI 2.0 run in
    ``tests/e2e/test_independent_rp_fapi2.py`` says more). So the request
    idpyoidc built is pushed as it is, with the agency's client_secret_basic,
    and the citizen's browser carries only client_id and request_uri to the
    authorization endpoint idpyoidc discovered."""
    monkeypatch.chdir(tmp_path)
    issuer = real_platform.settings.issuer
    created = real_platform.admin.registry.create(
        name="Independent PAR RP",
        scopes=["openid", "profile", "email"],
        redirect_uris=[REDIRECT],
        require_pushed_authorization_requests=True,
    )
    assert created.client_secret
    client_id = created.agency.client_id
    real_platform.admin.accounts.create(
        email="idpy.par@example.gov.test",
        password="correct horse battery",
        email_verified=True,
        given_name="Katherine",
        family_name="Johnson",
    )
    handler = RPHandler(
        base_url="https://rp.example.gov",
        client_configs={
            "gaap": {
                "issuer": issuer,
                "client_id": client_id,
                "client_secret": created.client_secret,
                "redirect_uris": [REDIRECT],
                "client_type": "oidc",
                "client_authn_methods": ["client_secret_basic"],
                "services": SERVICES,
                "behaviour": {
                    "response_types": ["code"],
                    "scope": ["openid", "profile", "email"],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
                "add_ons": {
                    "pkce": {
                        "function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                        "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"},
                    }
                },
            }
        },
    )
    url = handler.begin(issuer_id="gaap", req_args={"scope": ["openid", "profile", "email"]})
    provider = handler.issuer2rp[issuer].get_context().provider_info
    assert provider["pushed_authorization_request_endpoint"] == issuer + "/par"

    browser = CitizenBrowser(issuer)
    plain = browser.get(url)  # this agency must push: the plain request is refused
    assert parse_qs(urlsplit(plain.headers["location"]).query)["error_description"] == [
        "pushed authorization request required"
    ]

    built = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    pushed = httpx.post(
        provider["pushed_authorization_request_endpoint"],
        data=built,
        auth=(client_id, created.client_secret),
    )
    assert pushed.status_code == 201, pushed.text
    start = (
        provider["authorization_endpoint"]
        + "?"
        + urlencode({"client_id": client_id, "request_uri": pushed.json()["request_uri"]})
    )
    response = browser.sign_in(
        start, "idpy.par@example.gov.test", "correct horse battery", stop_at=REDIRECT
    )
    callback = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    assert callback["state"] == built["state"]
    result = handler.finalize(issuer, callback)  # token exchange, ID token checks, UserInfo

    id_token = result["id_token"]
    assert id_token["iss"] == issuer
    assert id_token["aud"] == [client_id]
    assert id_token["nonce"] == built["nonce"]
    assert result["userinfo"]["given_name"] == "Katherine"
