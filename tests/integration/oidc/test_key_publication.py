"""A relying party that fetched identity's JWKS before any ID token was signed
verifies an ID token of every advertised algorithm with the JWKS it holds: no
key signs before it is published (issue 13 item 15)."""

from __future__ import annotations

import httpx
import jwt

from tests.integration.oidc.conftest import Citizen, make_rp
from tests.support.oidc import CitizenBrowser, callback_params
from tests.support.platform import ISSUER, Platform


def test_an_rp_holding_the_first_jwks_verifies_rs256_and_es256_id_tokens(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    base = platform.identity.http_url
    # Fetched once, before any agency asked for an algorithm, and kept.
    held = httpx.get(base + "/.well-known/jwks.json").json()
    keys = {k["kid"]: jwt.PyJWK(k) for k in held["keys"]}
    advertised = httpx.get(base + "/.well-known/openid-configuration").json()[
        "id_token_signing_alg_values_supported"
    ]
    assert set(advertised) == {"ES256", "RS256"}
    for alg in advertised:
        rp = make_rp(platform, id_token_alg=alg)
        request = rp.auth_request()
        response = citizen_browser.sign_in(
            request.url, citizen.email, citizen.password, citizen.totp_secret
        )
        params = callback_params(response)
        id_token = rp.redeem(params["code"], request.verifier).json()["id_token"]
        header = jwt.get_unverified_header(id_token)
        assert header["alg"] == alg
        assert header["kid"] in keys, f"the {alg} key was not in the JWKS the RP holds"
        claims = jwt.decode(
            id_token, keys[header["kid"]], algorithms=[alg], audience=rp.client_id, issuer=ISSUER
        )
        assert claims["nonce"] == request.nonce
