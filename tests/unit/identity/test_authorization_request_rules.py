"""The authorization request's rules (services/identity/domain/authorization.py),
called directly: each refusal's error code, description and whether it may go
back to the client, each boundary, and what a valid request keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.identity.domain import authorization
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationError, AuthorizationRequest

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CALLBACK = "https://rp.example.gov/callback"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"  # RFC 7638 §3.1's example


def agency(scopes: tuple[str, ...] = ("openid", "email"), *, disabled: bool = False) -> Agency:
    return Agency(
        client_id="ag_test",
        name="Test agency",
        mode="test",
        scopes=scopes,
        redirect_uris=(CALLBACK, "https://rp.example.gov/other"),
        auth_methods=("client_secret_basic",),
        secret_hash=None,
        jwks=None,
        created_at=NOW,
        disabled_at=NOW if disabled else None,
    )


def params(**extra: str) -> dict[str, str]:
    return {
        "client_id": "ag_test",
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }


def parse(p: dict[str, str], client: Agency | None = None) -> AuthorizationRequest:
    return authorization.parse(p, client or agency())


def refusal(p: dict[str, str], client: Agency | None = None) -> AuthorizationError:
    with pytest.raises(AuthorizationError) as caught:
        parse(p, client)
    return caught.value


def without(name: str) -> dict[str, str]:
    p = params()
    del p[name]
    return p


# -- the error itself -------------------------------------------------------------------


def test_an_authorization_error_carries_its_code_description_and_destination() -> None:
    error = AuthorizationError("invalid_scope", "the openid scope is required")
    assert (error.error, error.description, error.redirectable) == (
        "invalid_scope",
        "the openid scope is required",
        True,
    )
    assert str(error) == "the openid scope is required"
    assert AuthorizationError("a", "b", redirectable=False).redirectable is False


# -- the client and its redirect URI: shown on a page, never redirected -------------------


@pytest.mark.parametrize(
    ("client", "p", "description"),
    [
        (None, params(), "unknown or disabled client_id"),
        (agency(disabled=True), params(), "unknown or disabled client_id"),
        (agency(), without("redirect_uri"), "redirect_uri is required"),
        (agency(), params(redirect_uri=""), "redirect_uri is required"),
        (
            agency(),
            params(redirect_uri="https://rp.example.gov/callback/"),
            "redirect_uri is not registered for this client",
        ),
        (
            agency(),
            params(redirect_uri="https://RP.example.gov/callback"),
            "redirect_uri is not registered for this client",
        ),
        (
            agency(),
            params(redirect_uri="https://rp.example.gov/callback?x=1"),
            "redirect_uri is not registered for this client",
        ),
    ],
)
def test_a_bad_client_or_redirect_uri_is_shown_never_redirected(
    client: Agency | None, p: dict[str, str], description: str
) -> None:
    with pytest.raises(AuthorizationError) as caught:
        authorization.check_client(p, client)
    error = caught.value
    assert (error.error, error.description, error.redirectable) == (
        "invalid_request",
        description,
        False,
    )
    assert str(error) == description


def test_check_client_returns_the_registered_redirect_uri_sent() -> None:
    assert authorization.check_client(params(), agency()) == CALLBACK
    other = params(redirect_uri="https://rp.example.gov/other")
    assert authorization.check_client(other, agency()) == "https://rp.example.gov/other"


def test_parse_checks_the_client_first() -> None:
    # a request object and no redirect URI: the unredirectable refusal wins
    p = without("redirect_uri")
    p["request"] = "eyJ..."
    error = refusal(p)
    assert (error.description, error.redirectable) == ("redirect_uri is required", False)
    error = refusal(params(), agency(disabled=True))
    assert (error.description, error.redirectable) == ("unknown or disabled client_id", False)


# -- the rest of the request: refused back to the client ----------------------------------


@pytest.mark.parametrize(
    ("p", "error", "description"),
    [
        (
            params(dpop_jkt="too-short"),
            "invalid_request",
            "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
        ),
        (
            params(dpop_jkt=JKT + "A"),
            "invalid_request",
            "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
        ),
        (
            params(dpop_jkt=JKT[:-1] + "="),
            "invalid_request",
            "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
        ),
        (
            params(dpop_jkt=""),
            "invalid_request",
            "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
        ),
        (without("response_type"), "invalid_request", "response_type is required"),
        (params(response_type=""), "invalid_request", "response_type is required"),
        (
            params(response_type="token"),
            "unsupported_response_type",
            "only the authorization code flow (code) is supported",
        ),
        (
            params(response_type="code id_token"),
            "unsupported_response_type",
            "only the authorization code flow (code) is supported",
        ),
        (
            params(response_mode="fragment"),
            "invalid_request",
            "only response_mode=query is supported",
        ),
        (
            params(response_mode="form_post"),
            "invalid_request",
            "only response_mode=query is supported",
        ),
        (params(response_mode=""), "invalid_request", "only response_mode=query is supported"),
        (without("scope"), "invalid_scope", "the openid scope is required"),
        (params(scope=""), "invalid_scope", "the openid scope is required"),
        (params(scope="email"), "invalid_scope", "the openid scope is required"),
        (params(scope="OpenID"), "invalid_scope", "the openid scope is required"),
        (
            params(scope="openid phone"),
            "invalid_scope",
            "scope not allowed for this client: phone",
        ),
        (
            params(scope="address openid email phone address"),
            "invalid_scope",
            "scope not allowed for this client: address phone",
        ),
        (params(state="s" * 2049), "invalid_request", "state is too long"),
        (params(nonce=""), "invalid_request", "nonce must be 1 to 500 characters"),
        (params(nonce="n" * 501), "invalid_request", "nonce must be 1 to 500 characters"),
        (
            without("code_challenge"),
            "invalid_request",
            "PKCE is required: send code_challenge (S256)",
        ),
        (
            params(code_challenge=""),
            "invalid_request",
            "PKCE is required: send code_challenge (S256)",
        ),
        (
            without("code_challenge_method"),
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
        ),
        (
            params(code_challenge_method="plain"),
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
        ),
        (
            params(code_challenge_method="s256"),
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
        ),
        (
            params(code_challenge=CHALLENGE[:-1]),
            "invalid_request",
            "code_challenge is not an S256 challenge",
        ),
        (
            params(code_challenge=CHALLENGE + "A"),
            "invalid_request",
            "code_challenge is not an S256 challenge",
        ),
        (
            params(code_challenge=CHALLENGE[:-1] + "="),
            "invalid_request",
            "code_challenge is not an S256 challenge",
        ),
        (
            params(code_challenge=CHALLENGE[:-1] + "+"),
            "invalid_request",
            "code_challenge is not an S256 challenge",
        ),
        (params(prompt="select_account"), "invalid_request", "unknown prompt value"),
        (params(prompt="login create"), "invalid_request", "unknown prompt value"),
        (params(prompt="none login"), "invalid_request", "prompt=none cannot be combined"),
        (params(prompt="consent none"), "invalid_request", "prompt=none cannot be combined"),
        # every supported prompt at once is still a supported set, and none is not alone
        (
            params(prompt="consent none login"),
            "invalid_request",
            "prompt=none cannot be combined",
        ),
        (params(max_age="-1"), "invalid_request", "max_age must be a non-negative integer"),
        (params(max_age="1.5"), "invalid_request", "max_age must be a non-negative integer"),
        (params(max_age="ten"), "invalid_request", "max_age must be a non-negative integer"),
        (params(max_age=" 10"), "invalid_request", "max_age must be a non-negative integer"),
        (
            params(max_age="12345678901"),
            "invalid_request",
            "max_age must be a non-negative integer",
        ),
        (params(claims="{"), "invalid_request", "claims is not valid JSON"),
        (params(claims="[]"), "invalid_request", "claims must be an object of objects"),
        (params(claims='"id_token"'), "invalid_request", "claims must be an object of objects"),
        (
            params(claims='{"id_token": 1}'),
            "invalid_request",
            "claims must be an object of objects",
        ),
        (
            params(claims='{"userinfo": ["email"]}'),
            "invalid_request",
            "claims must be an object of objects",
        ),
        (
            params(claims='{"id_token": {}, "userinfo": "email"}'),
            "invalid_request",
            "claims must be an object of objects",
        ),
        (
            params(vtr='["P2"]'),
            "invalid_request",
            "vtr names no supported level (Cl, Cl.Cm)",
        ),
        (params(vtr="Cl.Cm"), "invalid_request", "vtr names no supported level (Cl, Cl.Cm)"),
    ],
)
def test_a_bad_request_for_a_genuine_client_goes_back_to_it(
    p: dict[str, str], error: str, description: str
) -> None:
    refused = refusal(p)
    assert (refused.error, refused.description, refused.redirectable) == (
        error,
        description,
        True,
    )
    assert str(refused) == description


def test_dpop_jkt_is_kept_and_absent_means_no_binding() -> None:
    assert parse(params(dpop_jkt=JKT)).dpop_jkt == JKT
    assert parse(params()).dpop_jkt is None
    assert AuthorizationRequest.from_json(parse(params(dpop_jkt=JKT)).to_json()).dpop_jkt == JKT


def test_pkce_is_checked_before_the_prompt_and_claims() -> None:
    error = refusal({**without("code_challenge"), "prompt": "bogus", "claims": "{"})
    assert error.description == "PKCE is required: send code_challenge (S256)"


# -- boundaries that are accepted -----------------------------------------------------


def test_state_up_to_2048_characters_is_kept_as_sent() -> None:
    assert authorization.MAX_STATE == 2048
    assert parse(params(state="s" * 2048)).state == "s" * 2048
    assert parse(params(state="")).state == ""
    assert parse(params()).state is None


@pytest.mark.parametrize("length", [1, 499, 500])
def test_a_nonce_of_1_to_500_characters_is_kept(length: int) -> None:
    assert authorization.MAX_NONCE == 500
    assert parse(params(nonce="n" * length)).nonce == "n" * length


def test_a_nonce_is_optional() -> None:
    assert parse(params()).nonce is None


@pytest.mark.parametrize(
    "challenge",
    [
        CHALLENGE,
        "A" * 43,
        "z" * 43,
        "0" * 43,
        "9" * 43,
        "-" * 43,
        "_" * 43,
        "aZ09-_" * 7 + "x",
    ],
)
def test_any_43_base64url_characters_are_an_s256_challenge(challenge: str) -> None:
    assert parse(params(code_challenge=challenge)).code_challenge == challenge


@pytest.mark.parametrize(
    ("raw", "max_age"),
    [("0", 0), ("1", 1), ("3600", 3600), ("9999999999", 9999999999), ("0000000001", 1)],
)
def test_max_age_is_a_whole_number_of_up_to_ten_digits(raw: str, max_age: int) -> None:
    assert parse(params(max_age=raw)).max_age == max_age


def test_no_or_an_empty_max_age_means_none() -> None:
    assert parse(params()).max_age is None
    assert parse(params(max_age="")).max_age is None


@pytest.mark.parametrize(
    ("prompt", "kept"),
    [
        ("none", {"none"}),
        ("login", {"login"}),
        ("consent", {"consent"}),
        ("login consent", {"login", "consent"}),
        ("consent  login login", {"login", "consent"}),
        ("none none", {"none"}),
        ("", set()),
    ],
)
def test_supported_prompts_are_kept(prompt: str, kept: set[str]) -> None:
    assert parse(params(prompt=prompt)).prompt == frozenset(kept)


def test_no_prompt_is_an_empty_set() -> None:
    assert parse(params()).prompt == frozenset()


@pytest.mark.parametrize("display", ["page", "popup", "touch", "wap"])
def test_a_known_display_is_kept(display: str) -> None:
    assert parse(params(display=display)).display == display


@pytest.mark.parametrize("display", ["", "PAGE", "mobile"])
def test_an_unknown_display_falls_back_to_page(display: str) -> None:
    assert parse(params(display=display)).display == "page"


def test_no_display_is_a_page() -> None:
    assert parse(params()).display == "page"


# -- what a valid request keeps ---------------------------------------------------------


def test_a_minimal_request_takes_every_default() -> None:
    request = parse(params())
    assert request == AuthorizationRequest(
        client_id="ag_test",
        redirect_uri=CALLBACK,
        scopes=("openid",),
        state=None,
        nonce=None,
        code_challenge=CHALLENGE,
        prompt=frozenset(),
        max_age=None,
        login_hint=None,
        ui_locales=(),
        claims_locales=(),
        acr="Cl",
        acr_essential=False,
        display="page",
        claims=None,
    )
    assert request.acr_essential is False


def test_a_full_request_keeps_every_parameter() -> None:
    request = parse(
        params(
            client_id="ignored: the agency's own id is kept",
            redirect_uri="https://rp.example.gov/other",
            scope="email openid email",
            state="st-1",
            nonce="n-1",
            response_mode="query",
            prompt="login consent",
            max_age="300",
            login_hint="ada@example.org",
            ui_locales="zh-Hans  en",
            claims_locales="fr en-GB",
            acr_values="Cl.Cm",
            display="touch",
            claims='{"id_token": {"email": {"essential": true}}, "userinfo": null}',
        ),
        agency(("email", "openid")),
    )
    assert request == AuthorizationRequest(
        client_id="ag_test",
        redirect_uri="https://rp.example.gov/other",
        scopes=("email", "openid"),
        state="st-1",
        nonce="n-1",
        code_challenge=CHALLENGE,
        prompt=frozenset({"login", "consent"}),
        max_age=300,
        login_hint="ada@example.org",
        ui_locales=("zh-Hans", "en"),
        claims_locales=("fr", "en-GB"),
        acr="Cl.Cm",
        acr_essential=False,
        display="touch",
        claims={"id_token": {"email": {"essential": True}}, "userinfo": {}},
    )


def test_scopes_keep_their_first_order_without_duplicates() -> None:
    request = parse(params(scope=" email openid  email openid "))
    assert request.scopes == ("email", "openid")


def test_an_empty_login_hint_is_none() -> None:
    assert parse(params(login_hint="")).login_hint is None


def test_locales_are_split_on_spaces() -> None:
    request = parse(params(ui_locales="", claims_locales=" de "))
    assert (request.ui_locales, request.claims_locales) == ((), ("de",))


# -- the claims parameter ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "kept"),
    [
        ("", None),
        ("{}", {}),
        ('{"id_token": null}', {"id_token": {}}),
        ('{"userinfo": {}}', {"userinfo": {}}),
        (
            '{"userinfo": {"email": null, "email_verified": {"essential": true}}}',
            {"userinfo": {"email": None, "email_verified": {"essential": True}}},
        ),
        (
            '{"id_token": {"auth_time": {"essential": true}}, "userinfo": {"email": null}}',
            {"id_token": {"auth_time": {"essential": True}}, "userinfo": {"email": None}},
        ),
        # members other than id_token and userinfo are ignored, whatever they hold
        ('{"id_token": {"sub": null}, "other": 1}', {"id_token": {"sub": None}}),
        # claims the registration does not cover are dropped (disclosure.py)
        (
            '{"userinfo": {"phone_number": null, "email": null}}',
            {"userinfo": {"email": None}},
        ),
    ],
)
def test_the_claims_parameter_keeps_its_two_members(
    claims: str, kept: dict[str, Any] | None
) -> None:
    assert parse(params(claims=claims)).claims == kept


def test_no_claims_parameter_is_none() -> None:
    assert parse(params()).claims is None


# -- the requested level of assurance ---------------------------------------------------


def acr_claim(spec: object) -> str:
    return json.dumps({"id_token": {"acr": spec}})


@pytest.mark.parametrize(
    ("extra", "acr", "essential"),
    [
        ({}, "Cl", False),
        ({"acr_values": "Cl.Cm"}, "Cl.Cm", False),
        ({"acr_values": "Cl Cl.Cm"}, "Cl", False),
        ({"acr_values": "P2"}, "Cl", False),
        ({"vtr": '["Cl.Cm"]'}, "Cl.Cm", False),
        ({"vtr": '["Cl.Cm"]', "acr_values": "Cl"}, "Cl.Cm", False),
        # the claims parameter's acr raises the level, never lowers it
        ({"claims": acr_claim({"value": "Cl.Cm"})}, "Cl.Cm", False),
        ({"claims": acr_claim({"values": ["Cl.Cm"]})}, "Cl.Cm", False),
        ({"claims": acr_claim({"values": ["Cl", "Cl.Cm"]})}, "Cl", False),
        ({"claims": acr_claim({"values": ["Cl.Cm", "Cl"]})}, "Cl", False),
        ({"claims": acr_claim({"values": ["P2", "Cl.Cm"]})}, "Cl.Cm", False),
        ({"claims": acr_claim({"values": ["Cl"]}), "acr_values": "Cl.Cm"}, "Cl.Cm", False),
        ({"claims": acr_claim({"value": "Cl"}), "vtr": '["Cl.Cm"]'}, "Cl.Cm", False),
        ({"claims": acr_claim({"value": "P2"})}, "Cl", False),
        ({"claims": acr_claim({"values": []})}, "Cl", False),
        # "values" wins over "value" when both are sent
        ({"claims": acr_claim({"values": ["Cl"], "value": "Cl.Cm"})}, "Cl", False),
        # an empty "values" falls back to "value"
        ({"claims": acr_claim({"values": [], "value": "Cl.Cm"})}, "Cl.Cm", False),
        # essential is the claim's own flag
        ({"claims": acr_claim({"essential": True})}, "Cl", True),
        ({"claims": acr_claim({"essential": True, "value": "Cl.Cm"})}, "Cl.Cm", True),
        ({"claims": acr_claim({"essential": False, "value": "Cl.Cm"})}, "Cl.Cm", False),
        ({"claims": acr_claim({"essential": 1, "values": ["Cl"]})}, "Cl", True),
        # acr: null or a non-object asks for nothing
        ({"claims": acr_claim(None)}, "Cl", False),
        ({"claims": acr_claim("Cl.Cm")}, "Cl", False),
        # only the id_token member carries the level
        ({"claims": json.dumps({"userinfo": {"acr": {"value": "Cl.Cm"}}})}, "Cl", False),
        ({"claims": json.dumps({"userinfo": {"acr": {"essential": True}}})}, "Cl", False),
        ({"claims": json.dumps({"id_token": None})}, "Cl", False),
    ],
)
def test_the_level_asked_for_is_the_highest_of_acr_values_vtr_and_the_acr_claim(
    extra: dict[str, str], acr: str, essential: bool
) -> None:
    request = parse(params(**extra))
    assert (request.acr, request.acr_essential) == (acr, essential)
    assert request.acr_essential is essential


# -- the pending request is stored as JSON ---------------------------------------------


def full_request() -> AuthorizationRequest:
    return parse(
        params(
            scope="openid email",
            state="st",
            nonce="n",
            prompt="consent login",
            max_age="60",
            login_hint="ada",
            ui_locales="en zh-Hans",
            claims_locales="en",
            acr_values="Cl.Cm",
            display="popup",
            claims=acr_claim({"essential": True}),
        )
    )


def test_to_json_names_every_field() -> None:
    assert full_request().to_json() == {
        "client_id": "ag_test",
        "redirect_uri": CALLBACK,
        "scopes": ["openid", "email"],
        "state": "st",
        "nonce": "n",
        "code_challenge": CHALLENGE,
        "prompt": ["consent", "login"],
        "max_age": 60,
        "login_hint": "ada",
        "ui_locales": ["en", "zh-Hans"],
        "claims_locales": ["en"],
        "acr": "Cl.Cm",
        "acr_essential": True,
        "display": "popup",
        "claims": {"id_token": {"acr": {"essential": True}}},
        "dpop_jkt": None,
    }


@pytest.mark.parametrize("request_", [full_request(), parse(params())])
def test_a_request_survives_a_json_round_trip(request_: AuthorizationRequest) -> None:
    stored = json.loads(json.dumps(request_.to_json()))
    restored = AuthorizationRequest.from_json(stored)
    assert restored == request_
    assert type(restored.scopes) is tuple
    assert type(restored.prompt) is frozenset
    assert type(restored.ui_locales) is tuple
    assert type(restored.claims_locales) is tuple
