"""The FAPI 2.0 profile driven by a relying-party library we did not write
(idpyoidc 5.0.0), with a citizen signing in at Cl.Cm in Chromium: discovery,
a pushed authorization request authenticated by private_key_jwt and bound to
a DPoP key, sign-in (password, authenticator code, consent), the code exchange
with a DPoP proof (a DPoP token whose cnf.jkt is the library's key), UserInfo
with DPoP, refresh with DPoP and revocation. Once as identity runs by default,
once with server nonces on; on SQLite and PostgreSQL.

idpyoidc builds every request and checks every answer (state, iss, the ID
token's signature, nonce and at_hash, PKCE, the DPoP proofs of its own add-on).
Where version 5.0.0 cannot follow RFC 9126, RFC 9449 or RFC 7009, the test
steps around that one gap, each said where it is done:

- its PAR add-on always wraps the request in a request object with an empty
  ``iss``, no ``aud`` or ``exp``, signed RS256 (RFC 9101 §4, FAPI 2.0 refuse
  it), sends a private_key_jwt assertion only inside that object, and takes
  only 200 for success where RFC 9126 §2.2 says 201: ``push`` sends the
  request idpyoidc built, with idpyoidc's own client assertion and DPoP proof;
- its token service names the token endpoint as the assertion's ``aud``
  (FAPI 2.0 §5.3.2.1 wants the issuer alone): the audience is passed to the
  library's own ``do_request``, which ``get_tokens`` and
  ``refresh_access_token`` cannot do;
- its DPoP add-on puts the SHA-256 of the access token in ``ath`` as hex
  where RFC 9449 §4.2 says base64url, and drops the ``nonce`` it is given from
  the proof it signs: ``rfc9449_proof`` re-signs the library's proof, with the
  library's key and proof class, with both right;
- it never reads ``DPoP-Nonce`` nor retries ``use_dpop_nonce`` (RFC 9449 §8,
  §9): the HTTP client the test gives the library (its ``httpc`` hook) keeps
  the nonce, and ``with_nonce_retry`` asks the library once more with it;
- its revocation service takes RFC 7009's empty answer (``{}``) for a faulty
  one: the request it builds is sent as it is and the 200 checked here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pyotp
import pytest
import requests
from cryptojwt.key_jar import init_key_jar  # type: ignore[import-untyped]
from idpyoidc.client.oauth2.add_on import dpop
from idpyoidc.client.oauth2.add_on.dpop import DPoPClientAuth
from idpyoidc.client.rp_handler import RPHandler
from idpyoidc.message.oidc import AuthorizationRequest

from tests.integration.oidc.conftest import Citizen, make_citizen
from tests.support.platform import Platform, running_platform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

SITE = "https://permits.example.gov"
REDIRECT = SITE + "/callback"
SCOPES = ["openid", "profile", "email", "offline_access"]
IDPY = "idpyoidc.client"
SERVICES = {
    name: {"class": f"{IDPY}.{path}"}
    for name, path in {
        "discovery": "oidc.provider_info_discovery.ProviderInfoDiscovery",
        "authorization": "oidc.authorization.Authorization",
        "access_token": "oidc.access_token.AccessToken",
        "refresh_access_token": "oidc.refresh_access_token.RefreshAccessToken",
        "userinfo": "oidc.userinfo.UserInfo",
        "token_revocation": "oauth2.token_revocation.TokenRevocation",
    }.items()
}
DPOP_SERVICES = ["accesstoken", "refresh_token", "userinfo", "token_revocation"]
# private_key_jwt as FAPI 2.0 asks: ES256, the issuer as audience, a short life
# (identity takes assertions of at most 300 s; idpyoidc's default is 600).
KEY_JWT = {"authn_method": "private_key_jwt", "algorithm": "ES256", "lifetime": 60}


@pytest.fixture(scope="module", params=[False, True], ids=["no-nonces", "server-nonces"])
def platform(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with running_platform(
        database_url,
        tmp_path_factory.mktemp("fapi2-rp"),
        real_issuer=True,  # idpyoidc fetches discovery from the issuer
        dpop_nonces=request.param,
    ) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()

    def agency_site(route: Route) -> None:  # where identity sends the citizen back
        route.fulfill(status=200, content_type="text/html", body="<title>Permits</title>")

    page.route(SITE + "/**", agency_site)
    yield page
    context.close()


class NonceKeeper:
    """The HTTP client handed to idpyoidc (its ``httpc`` hook): requests, keeping
    the last ``DPoP-Nonce`` a server sent, which the library itself ignores."""

    def __init__(self) -> None:
        self.nonce = ""
        self.asked = 0  # use_dpop_nonce refusals seen

    def __call__(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, url, timeout=10, **kwargs)
        self.nonce = response.headers.get("DPoP-Nonce", self.nonce)
        return response


def with_nonce_retry(http: NonceKeeper, call: Callable[[str], Any]) -> Any:
    """``call(nonce)`` once; once more with the server's nonce if it asked for one."""
    answer = call(http.nonce)
    if answer.get("error") == "use_dpop_nonce":
        http.asked += 1
        answer = call(http.nonce)
    return answer


def rfc9449_proof(
    context: Any,
    service_endpoint: str,
    http_method: str,
    token: str = "",
    nonce: str = "",
    **kwargs: Any,
) -> dict[str, str]:
    """idpyoidc's own DPoP proof (its key, ``jti``, ``htm``, ``htu``, ``iat``),
    re-signed by its own ``DPoPProof`` with ``ath`` as RFC 9449 §4.2 says
    (base64url of the token's SHA-256; the library writes hex) and with the
    server's ``nonce`` (the library takes one but leaves it out of the proof)."""
    headers: dict[str, str] = dpop.dpop_header(
        context, service_endpoint, http_method, token="", nonce="", **kwargs
    )
    if not (token or nonce):
        return headers
    claims = jwt.decode(headers["dpop"], options={"verify_signature": False})
    if token:
        digest = hashlib.sha256(token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if nonce:
        claims["nonce"] = nonce
    conf = context.add_on["dpop"]
    proof = dpop.DPoPProof(typ="dpop+jwt", alg=conf["alg"], jwk=conf["key"].serialize(), **claims)
    proof.key = conf["key"]
    proof.body_params = {*dpop.DPoPProof.body_params, "nonce"}
    headers["dpop"] = proof.create_header()
    return headers


def relying_party(platform: Platform, tmp_path: Path, http: NonceKeeper) -> tuple[Any, str]:
    """idpyoidc configured for the profile, and the fapi2 agency it is."""
    keys = init_key_jar(
        private_path=str(tmp_path / "rp_keys.json"),
        key_defs=[{"type": "EC", "crv": "P-256", "use": ["sig"]}],
        read_only=False,
    )
    created = platform.admin.registry.create(
        name="Residents' parking permits (FAPI 2.0)",
        scopes=SCOPES,
        redirect_uris=[REDIRECT],
        jwks=keys.export_jwks(private=False),
        profile="fapi2",
    )
    assert created.client_secret is None  # private_key_jwt only
    handler = RPHandler(
        base_url=SITE,
        keyjar=keys,
        httpc=http,
        client_configs={
            "gaap": {
                "issuer": platform.settings.issuer,
                "client_id": created.agency.client_id,
                "redirect_uris": [REDIRECT],
                "client_type": "oidc",
                "client_authn_methods": ["private_key_jwt"],
                "services": SERVICES,
                "behaviour": {
                    "response_types": ["code"],
                    "scope": SCOPES,
                    "token_endpoint_auth_method": "private_key_jwt",
                    "id_token_signed_response_alg": "ES256",
                },
                "add_ons": {
                    "pkce": {
                        "function": f"{IDPY}.oauth2.add_on.pkce.add_support",
                        "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"},
                    },
                    "dpop": {
                        "function": f"{IDPY}.oauth2.add_on.dpop.add_support",
                        "kwargs": {
                            "dpop_signing_alg_values_supported": ["ES256"],
                            "with_dpop_header": DPOP_SERVICES,
                        },
                    },
                },
            }
        },
    )
    return handler, created.agency.client_id


def push(client: Any, url: str, nonce: str = "") -> httpx.Response:
    """POST to /par the authorization request idpyoidc built (PKCE, state,
    nonce), authenticated by idpyoidc's private_key_jwt (for any endpoint but
    the token endpoint it names the issuer as audience) and with a DPoP proof
    by its DPoP key, which binds the code (RFC 9449 §10)."""
    context = client.get_context()
    service = client.get_service("authorization")
    request = AuthorizationRequest(**{k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})
    headers = service.get_headers(request, http_method="POST", **KEY_JWT)
    endpoint = "pushed_authorization_request_endpoint"
    headers = rfc9449_proof(context, endpoint, "POST", nonce=nonce, headers=headers)
    return httpx.post(context.provider_info[endpoint], data=request.to_dict(), headers=headers)


def sign_in_in_chromium(page: Page, start: str, citizen: Citizen) -> dict[str, str]:
    page.goto(start)
    assert page.title() == "Sign in"
    page.get_by_label("Email address").fill(citizen.email)
    page.get_by_label("Password").fill(citizen.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Security code").fill(pyotp.TOTP(citizen.totp_secret).now())
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(REDIRECT + "**")
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_idpyoidc_drives_the_fapi2_profile_with_a_chromium_sign_in_at_cl_cm(
    platform: Platform, page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # idpyoidc may write files to the working folder
    issuer = platform.settings.issuer
    nonces_on = platform.identity_settings.dpop_nonces
    http = NonceKeeper()
    handler, client_id = relying_party(platform, tmp_path, http)
    citizen = make_citizen(platform)

    # Discovery, by the library, and the authorization request it builds.
    url = handler.begin(issuer_id="gaap", req_args={"scope": SCOPES, "acr_values": "Cl.Cm"})
    client = handler.issuer2rp[issuer]
    for name in DPOP_SERVICES:
        client.get_service(name).construct_extra_headers = [rfc9449_proof]
    context = client.get_context()
    provider = context.provider_info
    assert provider["pushed_authorization_request_endpoint"] == issuer + "/par"
    assert "ES256" in provider["dpop_signing_alg_values_supported"]
    assert "private_key_jwt" in provider["token_endpoint_auth_methods_supported"]
    built = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert built["code_challenge_method"] == "S256"

    # A profile agency's plain request is refused: it must push.
    plain = httpx.get(url)
    assert parse_qs(urlsplit(plain.headers["location"]).query)["error_description"] == [
        "pushed authorization request required"
    ]

    pushed = push(client, url)
    if pushed.status_code == 400 and pushed.json().get("error") == "use_dpop_nonce":
        # With server nonces on, /par asks for one as the token endpoint does.
        assert nonces_on
        pushed = push(client, url, pushed.headers["DPoP-Nonce"])
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert pushed.json()["expires_in"] == 60

    start = (
        provider["authorization_endpoint"]
        + "?"
        + urlencode({"client_id": client_id, "request_uri": request_uri})
    )
    callback = sign_in_in_chromium(page, start, citizen)
    assert callback["iss"] == issuer
    authorized = client.finalize_auth(callback)  # state and iss checked by the library
    state = authorized["state"]
    assert state == built["state"]

    # The code exchange with a DPoP proof by the library's key.
    tokens = with_nonce_retry(
        http,
        lambda nonce: client.do_request(
            "accesstoken",
            request_args={
                "code": authorized["code"],
                "state": state,
                "redirect_uri": REDIRECT,
                "grant_type": "authorization_code",
                "client_id": client_id,
            },
            state=state,
            audience=issuer,
            nonce=nonce,
            **KEY_JWT,
        ),
    )
    assert "error" not in tokens, tokens.to_dict()
    assert tokens["token_type"] == "DPoP"
    dpop_key = context.add_on["dpop"]["key"]
    jkt = dpop_key.thumbprint("SHA-256").decode()
    access = claims_of(tokens["access_token"])
    assert access["cnf"] == {"jkt": jkt}
    assert access["acr"] == "Cl.Cm"
    id_token = tokens["__verified_id_token"]  # signature, iss, aud, nonce checked
    assert id_token["nonce"] == built["nonce"]
    assert id_token["acr"] == "Cl.Cm"

    # UserInfo with 'DPoP <token>' and a proof with ath.
    userinfo = client.get_service("userinfo")
    userinfo.client_authn_methods["dpop_client_auth"] = DPoPClientAuth()
    claims = with_nonce_retry(
        http,
        lambda nonce: client.do_request(
            "userinfo",
            state=state,
            request_args={"access_token": tokens["access_token"]},
            authn_method="dpop_client_auth",
            nonce=nonce,
        ),
    )
    assert claims["sub"] == id_token["sub"]
    assert claims["email"] == citizen.email
    assert claims["given_name"] == "Ada"

    # Refresh, with a proof: a new DPoP token bound to the same key.
    refreshed = with_nonce_retry(
        http,
        lambda nonce: client.do_request(
            "refresh_token", state=state, audience=issuer, nonce=nonce, **KEY_JWT
        ),
    )
    assert "error" not in refreshed, refreshed.to_dict()
    assert refreshed["token_type"] == "DPoP"
    assert refreshed["access_token"] != tokens["access_token"]
    assert claims_of(refreshed["access_token"])["cnf"] == {"jkt": jkt}

    # Revocation of the refresh token, as the library builds it.
    revocation = client.get_service("token_revocation").get_request_parameters(
        request_args={"token": refreshed["refresh_token"], "token_type_hint": "refresh_token"},
        audience=issuer,
        nonce=http.nonce,
        **KEY_JWT,
    )
    revoked = httpx.post(
        revocation["url"], content=revocation["body"], headers=revocation["headers"]
    )
    assert revoked.status_code == 200, revoked.text
    again = with_nonce_retry(
        http,
        lambda nonce: client.do_request(
            "refresh_token", state=state, audience=issuer, nonce=nonce, **KEY_JWT
        ),
    )
    assert again["error"] == "invalid_grant"

    # With server nonces on, the library was told to retry at least once.
    assert (http.asked > 0) == nonces_on
