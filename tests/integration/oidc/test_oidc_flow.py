"""identity as an OpenID Connect provider: the code flow and its rules, one test
per rule, against the real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
import sqlalchemy as sa

from services.identity.adapters.tables import audit_events, authorization_codes
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from tests.integration.oidc.conftest import Citizen, make_citizen, make_rp
from tests.support.oidc import (
    CALLBACK,
    SIGNED_OUT,
    CitizenBrowser,
    LogoutReceiver,
    RelyingParty,
    callback_params,
)
from tests.support.platform import ISSUER, Platform


def jwks(platform: Platform) -> dict[str, jwt.PyJWK]:
    document = httpx.get(platform.identity.http_url + "/.well-known/jwks.json").json()
    return {k["kid"]: jwt.PyJWK(k) for k in document["keys"]}


def verify_id_token(platform: Platform, token: str, audience: str) -> dict[str, Any]:
    """The ID token's claims, its times checked on identity's clock (which a
    test may have moved ahead of the wall clock pyjwt would use)."""
    kid = jwt.get_unverified_header(token)["kid"]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwks(platform)[kid],
        algorithms=["ES256", "RS256"],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["iat", "exp"], "verify_iat": False, "verify_exp": False},
    )
    now = platform.clock().timestamp()
    assert claims["iat"] <= now < claims["exp"], (claims["iat"], now, claims["exp"])
    return claims


def signed_in_code(
    browser: CitizenBrowser, rp: RelyingParty, citizen: Citizen, **extra: str
) -> tuple[dict[str, str], Any]:
    request = rp.auth_request(**extra)
    response = browser.sign_in(request.url, citizen.email, citizen.password, citizen.totp_secret)
    params = callback_params(response)
    return params, request


def test_code_flow_at_cl_cm_gives_verified_tokens(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = signed_in_code(
        citizen_browser,
        rp,
        citizen,
        scope="openid profile email offline_access",
        acr_values="Cl.Cm",
    )
    assert params["state"] == request.state
    assert params["iss"] == ISSUER  # RFC 9207
    response = rp.redeem(params["code"], request.verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"].startswith("rt_")
    claims = verify_id_token(platform, body["id_token"], rp.client_id)
    assert claims["nonce"] == request.nonce
    assert claims["acr"] == "Cl.Cm"
    assert set(claims["amr"]) >= {"pwd", "otp"}
    assert claims["sid"]
    assert abs(claims["auth_time"] - time.time()) < 120
    assert claims["sub"] != citizen.account_id  # pairwise by default
    assert claims["at_hash"]
    for method in ("GET", "POST"):
        info = httpx.request(
            method,
            platform.identity.http_url + "/userinfo",
            headers={"authorization": f"Bearer {body['access_token']}"},
        )
        assert info.status_code == 200, info.text
        assert info.json() == {
            "sub": claims["sub"],
            "email": citizen.email,
            "email_verified": True,
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "locale": "en",
            "updated_at": info.json()["updated_at"],
        }


def test_password_only_is_cl_and_step_up_asks_only_for_the_code(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    first = rp.auth_request()
    page = citizen_browser.follow(citizen_browser.get(first.url))
    page = citizen_browser.follow(
        citizen_browser.submit(page, email=citizen.email, password=citizen.password)
    )
    page = citizen_browser.follow(citizen_browser.submit(page, decision="allow"))
    tokens = rp.redeem(callback_params(page)["code"], first.verifier).json()
    assert verify_id_token(platform, tokens["id_token"], rp.client_id)["acr"] == "Cl"

    second = rp.auth_request(acr_values="Cl.Cm")
    page = citizen_browser.follow(citizen_browser.get(second.url))
    assert 'name="code"' in page.text
    assert 'name="password"' not in page.text
    page = citizen_browser.follow(citizen_browser.submit(page, code="000000"))
    assert page.status_code == 400  # a wrong code is refused, still at Cl
    import pyotp

    page = citizen_browser.follow(
        citizen_browser.submit(page, code=pyotp.TOTP(citizen.totp_secret).now())
    )
    code = callback_params(page)["code"]
    tokens = rp.redeem(code, second.verifier).json()
    assert verify_id_token(platform, tokens["id_token"], rp.client_id)["acr"] == "Cl.Cm"


def test_a_totp_code_is_accepted_once(
    platform: Platform, rp: RelyingParty, citizen_browser: CitizenBrowser
) -> None:
    import pyotp

    citizen = make_citizen(platform)
    code = pyotp.TOTP(citizen.totp_secret).now()
    first = rp.auth_request(acr_values="Cl.Cm")
    page = citizen_browser.follow(citizen_browser.get(first.url))
    page = citizen_browser.follow(
        citizen_browser.submit(page, email=citizen.email, password=citizen.password)
    )
    page = citizen_browser.follow(citizen_browser.submit(page, code=code))
    assert 'name="decision"' in page.text
    other = CitizenBrowser(platform.identity.http_url)
    page = other.follow(other.get(rp.auth_request(acr_values="Cl.Cm").url))
    page = other.follow(other.submit(page, email=citizen.email, password=citizen.password))
    page = other.follow(other.submit(page, code=code))  # the same code again
    assert page.status_code == 400


def test_code_reuse_fails_and_revokes_its_tokens(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = signed_in_code(citizen_browser, rp, citizen, scope="openid offline_access")
    first = rp.redeem(params["code"], request.verifier)
    assert first.status_code == 200
    again = rp.redeem(params["code"], request.verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    access = first.json()["access_token"]
    info = httpx.get(
        platform.identity.http_url + "/userinfo", headers={"authorization": f"Bearer {access}"}
    )
    assert info.status_code == 401
    assert 'error="invalid_token"' in info.headers["www-authenticate"]
    refresh = rp.token(grant_type="refresh_token", refresh_token=first.json()["refresh_token"])
    assert refresh.json()["error"] == "invalid_grant"
    with platform.admin.database.sessions() as session:
        types = set(session.scalars(sa.select(audit_events.c.type)))
    assert "authorization_code.reused" in types


def test_expired_code_and_bad_pkce_are_invalid_grant(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = signed_in_code(citizen_browser, rp, citizen)
    wrong = rp.redeem(params["code"], "x" * 43)
    assert wrong.json()["error"] == "invalid_grant"
    missing = rp.token(grant_type="authorization_code", code=params["code"], redirect_uri=CALLBACK)
    assert missing.json()["error"] == "invalid_grant"
    other_redirect = rp.token(
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=CALLBACK + "/other",
        code_verifier=request.verifier,
    )
    assert other_redirect.json()["error"] == "invalid_grant"
    params, request = signed_in_code(citizen_browser, rp, citizen)
    with transaction(platform.admin.database.sessions) as session:
        session.execute(
            authorization_codes.update().values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = rp.redeem(params["code"], request.verifier)
    assert expired.json()["error"] == "invalid_grant"
    assert "expired" in expired.json()["error_description"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid payments:refund"}, "invalid_scope"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"dpop_jkt": "not-a-thumbprint"}, "invalid_request"),
        ({"vtr": "not json"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
    ],
)
def test_bad_requests_are_redirected_with_the_error_state_and_issuer(
    rp: RelyingParty, citizen_browser: CitizenBrowser, change: dict[str, str], error: str
) -> None:
    request = rp.auth_request(**change)
    response = citizen_browser.get(request.url)
    params = callback_params(response)
    assert response.headers["location"].startswith(CALLBACK)
    assert params["error"] == error
    assert params["state"] == request.state
    assert params["iss"] == ISSUER


@pytest.mark.parametrize("redirect", ["https://evil.example/cb", CALLBACK + "/", CALLBACK + "?x=1"])
def test_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
    rp: RelyingParty, citizen_browser: CitizenBrowser, redirect: str
) -> None:
    request = RelyingParty(rp.base, rp.client_id, rp.client_secret, redirect).auth_request()
    response = citizen_browser.get(request.url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "made a mistake" in response.text


def test_unknown_client_gets_an_error_page(
    rp: RelyingParty, citizen_browser: CitizenBrowser
) -> None:
    request = RelyingParty(rp.base, "ag_unknown", None).auth_request()
    response = citizen_browser.get(request.url)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_prompt_none_login_required_then_silent_then_consent_required(
    rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    silent = rp.auth_request(prompt="none")
    assert callback_params(citizen_browser.get(silent.url))["error"] == "login_required"
    signed_in_code(citizen_browser, rp, citizen)
    silent = rp.auth_request(prompt="none")
    params = callback_params(citizen_browser.get(silent.url))
    assert "code" in params
    assert rp.redeem(params["code"], silent.verifier).status_code == 200
    more = rp.auth_request(prompt="none", scope="openid phone")
    assert callback_params(citizen_browser.get(more.url))["error"] == "consent_required"
    # A Cl session is never silently accepted for Cl.Cm.
    higher = rp.auth_request(prompt="none", acr_values="Cl.Cm", scope="openid profile email")
    assert callback_params(citizen_browser.get(higher.url))["error"] == "login_required"


def test_prompt_login_and_max_age_force_a_fresh_sign_in_and_auth_time_tells_the_truth(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = signed_in_code(citizen_browser, rp, citizen)
    first = verify_id_token(
        platform, rp.redeem(params["code"], request.verifier).json()["id_token"], rp.client_id
    )
    platform.clock.advance(timedelta(seconds=2))  # auth_time has a resolution of one second
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        request = rp.auth_request(**extra)
        page = citizen_browser.follow(citizen_browser.get(request.url))
        assert 'name="password"' in page.text, extra
        page = citizen_browser.follow(
            citizen_browser.submit(page, email=citizen.email, password=citizen.password)
        )
        tokens = rp.redeem(callback_params(page)["code"], request.verifier).json()
        claims = verify_id_token(platform, tokens["id_token"], rp.client_id)
        assert claims["auth_time"] > first["auth_time"], extra
    generous = rp.auth_request(max_age="3600")
    assert "code" in callback_params(citizen_browser.follow(citizen_browser.get(generous.url)))


def test_no_nonce_no_nonce_claim_and_unknown_parameters_are_ignored(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    request = rp.auth_request(nonce="", foo="bar", display="touch", claims_locales="en")
    response = citizen_browser.sign_in(request.url, citizen.email, citizen.password)
    tokens = rp.redeem(callback_params(response)["code"], request.verifier).json()
    assert "nonce" not in verify_id_token(platform, tokens["id_token"], rp.client_id)


def test_authorization_request_by_post(rp: RelyingParty, citizen_browser: CitizenBrowser) -> None:
    request = rp.auth_request()
    url, _, query = request.url.partition("?")
    form = {k: v[0] for k, v in parse_qs(query).items()}
    response = citizen_browser.follow(citizen_browser.client.post(url, data=form))
    assert 'name="password"' in response.text


def test_claims_parameter_and_vtr(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    claims = json.dumps(
        {"id_token": {"email": {"essential": True}}, "userinfo": {"phone_number": None}}
    )
    params, request = signed_in_code(
        citizen_browser, rp, citizen, scope="openid", claims=claims, vtr='["Cl.Cm"]'
    )
    tokens = rp.redeem(params["code"], request.verifier).json()
    id_claims = verify_id_token(platform, tokens["id_token"], rp.client_id)
    assert id_claims["email"] == citizen.email
    assert id_claims["acr"] == "Cl.Cm"
    info = httpx.get(
        platform.identity.http_url + "/userinfo",
        headers={"authorization": f"Bearer {tokens['access_token']}"},
    ).json()
    assert info["phone_number"] == "+447700900001"
    assert "email" not in info  # not a consented scope, not requested for userinfo


def test_refresh_rotation_and_family_revocation_on_reuse(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = signed_in_code(citizen_browser, rp, citizen, scope="openid offline_access")
    tokens = rp.redeem(params["code"], request.verifier).json()
    rotated = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert verify_id_token(platform, new["id_token"], rp.client_id)["sid"]
    narrower = rp.token(
        grant_type="refresh_token",
        refresh_token=new["refresh_token"],
        scope="openid offline_access phone",
    )
    assert narrower.json()["error"] == "invalid_scope"
    reuse = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reuse.json()["error"] == "invalid_grant"
    family_gone = rp.token(grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert family_gone.json()["error"] == "invalid_grant"
    other = make_rp(platform)
    stolen = other.token(grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert stolen.json()["error"] == "invalid_grant"


def test_revocation_and_introspection(
    platform: Platform, rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    params, request = signed_in_code(citizen_browser, rp, citizen, scope="openid offline_access")
    tokens = rp.redeem(params["code"], request.verifier).json()
    auth = (rp.client_id, rp.client_secret or "")
    url = platform.identity.http_url
    active = httpx.post(
        url + "/oauth2/introspect", data={"token": tokens["access_token"]}, auth=auth
    ).json()
    assert active["active"] is True
    assert active["client_id"] == rp.client_id
    assert active["acr"] == "Cl"
    other = make_rp(platform)
    other_auth = (other.client_id, other.client_secret or "")
    assert httpx.post(
        url + "/oauth2/introspect", data={"token": tokens["access_token"]}, auth=other_auth
    ).json() == {"active": False}
    assert httpx.post(url + "/oauth2/introspect", data={"token": "garbage"}, auth=auth).json() == {
        "active": False
    }
    assert (
        httpx.post(url + "/oauth2/introspect", data={"token": tokens["access_token"]}).status_code
        == 401
    )
    refresh = httpx.post(
        url + "/oauth2/introspect", data={"token": tokens["refresh_token"]}, auth=auth
    ).json()
    assert refresh["active"] is True
    # Another agency's revocation changes nothing; the owner's revokes the family.
    assert (
        httpx.post(
            url + "/oauth2/revoke", data={"token": tokens["refresh_token"]}, auth=other_auth
        ).status_code
        == 200
    )
    assert (
        httpx.post(
            url + "/oauth2/introspect", data={"token": tokens["refresh_token"]}, auth=auth
        ).json()["active"]
        is True
    )
    assert (
        httpx.post(
            url + "/oauth2/revoke", data={"token": tokens["refresh_token"]}, auth=auth
        ).status_code
        == 200
    )
    assert httpx.post(
        url + "/oauth2/introspect", data={"token": tokens["refresh_token"]}, auth=auth
    ).json() == {"active": False}
    assert (
        httpx.post(url + "/oauth2/revoke", data={"token": "unknown"}, auth=auth).status_code == 200
    )
    assert httpx.post(url + "/oauth2/revoke", data={"token": "x"}).status_code == 401


def test_public_client_uses_pkce_and_no_secret(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    public = make_rp(platform, public=True)
    assert public.client_secret is None
    params, request = signed_in_code(citizen_browser, public, citizen)
    response = public.redeem(params["code"], request.verifier)
    assert response.status_code == 200, response.text
    no_client = httpx.post(
        platform.identity.http_url + "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": public.client_id},
    )
    assert no_client.json()["error"] == "invalid_client"  # a public client has no credentials


def test_pairwise_and_public_subjects_and_rs256(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    subjects = {}
    for name, oidc in (
        ("a", {}),
        ("b", {}),
        ("same-sector", {"sector_identifier": "sector-x"}),
        ("same-sector-2", {"sector_identifier": "sector-x"}),
        ("public", {"subject_type": "public", "id_token_alg": "RS256"}),
    ):
        rp = make_rp(platform, **oidc)
        params, request = signed_in_code(citizen_browser, rp, citizen)
        id_token = rp.redeem(params["code"], request.verifier).json()["id_token"]
        if name == "public":
            assert jwt.get_unverified_header(id_token)["alg"] == "RS256"
        subjects[name] = verify_id_token(platform, id_token, rp.client_id)["sub"]
    assert subjects["a"] != subjects["b"]
    assert subjects["same-sector"] == subjects["same-sector-2"]
    assert subjects["public"] == citizen.account_id


def test_consent_denied_is_access_denied(
    rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    request = rp.auth_request()
    response = citizen_browser.sign_in(request.url, citizen.email, citizen.password, consent=False)
    assert callback_params(response)["error"] == "access_denied"


def test_pages_are_protected_from_framing_and_forgery(
    platform: Platform, rp: RelyingParty, citizen_browser: CitizenBrowser
) -> None:
    page = citizen_browser.follow(citizen_browser.get(rp.auth_request().url))
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert 'autocomplete="username"' in page.text
    assert 'autocomplete="current-password"' in page.text
    cookies = page.headers.get_list("set-cookie") if hasattr(page.headers, "get_list") else []
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
    form = citizen_browser.form(page)
    forged = citizen_browser.client.post(
        platform.identity.http_url + form.action,
        data={"email": "a@b.c", "password": "x", "purpose": "signin", "csrf_token": "forged"},
    )
    assert forged.status_code == 403


def test_lockout_after_six_wrong_passwords_with_a_non_revealing_message(
    platform: Platform, rp: RelyingParty, citizen_browser: CitizenBrowser
) -> None:
    citizen = make_citizen(platform)
    page = citizen_browser.follow(citizen_browser.get(rp.auth_request().url))
    messages = []
    for _ in range(6):
        page = citizen_browser.submit(page, email=citizen.email, password="wrong password!")
        messages.append(page.text)
    assert "not right" in messages[0]
    assert "too many times" in messages[-1]
    page = citizen_browser.submit(page, email=citizen.email, password=citizen.password)
    assert "too many times" in page.text  # locked even with the right password
    unknown = citizen_browser.submit(page, email="nobody@example.gov.test", password="whatever1")
    assert "not right" in unknown.text
    with platform.admin.database.sessions() as session:
        locked = session.scalar(
            sa.select(sa.func.count())
            .select_from(audit_events)
            .where(
                audit_events.c.type == "account.locked",
                audit_events.c.account_id == citizen.account_id,
            )
        )
    assert locked == 1


def test_pages_in_simplified_chinese(rp: RelyingParty, citizen_browser: CitizenBrowser) -> None:
    page = citizen_browser.follow(citizen_browser.get(rp.auth_request(ui_locales="zh-CN en").url))
    assert '<html lang="zh-Hans">' in page.text
    assert "电子邮件地址" in page.text


def test_rp_initiated_and_back_channel_logout(
    platform: Platform,
    citizen: Citizen,
    citizen_browser: CitizenBrowser,
    logout_receiver: LogoutReceiver,
) -> None:
    rp = make_rp(platform, backchannel_logout_uri=logout_receiver.url)
    params, request = signed_in_code(citizen_browser, rp, citizen, scope="openid offline_access")
    tokens = rp.redeem(params["code"], request.verifier).json()
    id_claims = verify_id_token(platform, tokens["id_token"], rp.client_id)
    bad = citizen_browser.get(
        "/logout?"
        + httpx.QueryParams(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://evil.example/",
            }
        ).__str__()
    )
    assert bad.status_code == 400
    assert "location" not in bad.headers
    response = citizen_browser.get(
        "/logout?"
        + str(
            httpx.QueryParams(
                {
                    "id_token_hint": tokens["id_token"],
                    "post_logout_redirect_uri": SIGNED_OUT,
                    "state": "s1",
                }
            )
        )
    )
    assert response.status_code == 303
    assert response.headers["location"] == SIGNED_OUT + "?state=s1"
    silent = rp.auth_request(prompt="none")
    assert callback_params(citizen_browser.get(silent.url))["error"] == "login_required"
    refresh = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.json()["error"] == "invalid_grant"
    claims = logout_receiver.claims(platform.identity.http_url, rp.client_id, clock=platform.clock)
    assert claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"]


def test_logout_without_a_hint_asks_first(
    rp: RelyingParty, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    signed_in_code(citizen_browser, rp, citizen)
    page = citizen_browser.get("/logout")
    assert 'name="purpose" value="logout"' in page.text
    done = citizen_browser.submit(page)
    assert "You have signed out" in done.text
    silent = rp.auth_request(prompt="none")
    assert callback_params(citizen_browser.get(silent.url))["error"] == "login_required"


def test_userinfo_refuses_agency_tokens_and_garbage(platform: Platform) -> None:
    agency = platform.secret_agency(scopes=["payments:read"])
    token = platform.token(agency)
    for bearer in (token, "garbage"):
        response = httpx.get(
            platform.identity.http_url + "/userinfo", headers={"authorization": f"Bearer {bearer}"}
        )
        assert response.status_code == 401
    assert httpx.get(platform.identity.http_url + "/userinfo").status_code == 401


def test_discovery_advertises_what_works(platform: Platform) -> None:
    meta = httpx.get(platform.identity.http_url + "/.well-known/openid-configuration").json()
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["acr_values_supported"]) == {"Cl", "Cl.Cm"}
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["request_parameter_supported"] is True
    assert meta["request_object_signing_alg_values_supported"] == ["ES256", "PS256", "RS256"]
    assert meta["response_modes_supported"] == ["query"]
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "jwks_uri",
    ):
        assert meta[endpoint].startswith(ISSUER + "/")
        path = meta[endpoint].removeprefix(ISSUER)
        assert httpx.request("OPTIONS", platform.identity.http_url + path).status_code != 404
