"""The sign-in flow's pieces that need no database: which language a page
speaks, its OAuth parameters, the redirect back, the consent page's digest and
what a refused attempt says."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.requests import Request

from services.identity.domain import authorization
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.disclosure import Disclosure
from services.identity.service_layer.signin import BrowserSession, Outcome
from services.identity.web.consent import shown
from services.identity.web.cookies import secure
from services.identity.web.failure_messages import failure_message, minutes_left
from services.identity.web.language import language_links, page_language
from services.identity.web.pending import Pending
from services.identity.web.redirects import parameters, with_query
from services.runtime.pages import Pages

WEB = Path(__file__).parents[3] / "services" / "identity" / "web"
LANGUAGES = ("en", "zh-Hans")
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def get(query: str = "", headers: dict[str, str] | None = None, scheme: str = "http") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": scheme,
            "server": ("id.example.gov", 443 if scheme == "https" else 80),
            "path": "/signin",
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        }
    )


def asked(**extra: str) -> AuthorizationRequest:
    agency = Agency(
        client_id="ag_test",
        name="Test agency",
        mode="test",
        scopes=("openid", "email"),
        redirect_uris=("https://rp.example.gov/callback",),
        auth_methods=("client_secret_basic",),
        secret_hash=None,
        jwks=None,
        created_at=NOW,
    )
    params = {
        "client_id": "ag_test",
        "redirect_uri": "https://rp.example.gov/callback",
        "response_type": "code",
        "scope": "openid email",
        "nonce": "n-1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **extra,
    }
    return authorization.parse(params, agency)


# -- language -----------------------------------------------------------------------


def test_an_explicit_choice_beats_the_cookie_the_hint_and_the_browser() -> None:
    request = get(
        "lang=en",
        {"cookie": "gaap_lang=zh-Hans", "accept-language": "zh-Hans"},
    )
    assert page_language(request, LANGUAGES, asked(ui_locales="zh-Hans")) == "en"


def test_the_agencys_first_ui_locale_beats_the_browser() -> None:
    request = get(headers={"accept-language": "en"})
    assert page_language(request, LANGUAGES, asked(ui_locales="zh-Hans en")) == "zh-Hans"


def test_without_a_hint_the_browser_decides() -> None:
    assert page_language(get(headers={"accept-language": "zh-Hans"}), LANGUAGES) == "zh-Hans"


def test_language_links_keep_the_page_and_its_query() -> None:
    links = language_links(get("auth=p1&lang=en"), LANGUAGES)
    assert links == [
        ("en", "English", "/signin?auth=p1&lang=en"),
        ("zh-Hans", "中文", "/signin?auth=p1&lang=zh-Hans"),
    ]


# -- parameters and redirects ----------------------------------------------------------


def test_a_repeated_parameter_makes_the_request_invalid() -> None:
    assert asyncio.run(parameters(get("client_id=a&scope=openid"))) == {
        "client_id": "a",
        "scope": "openid",
    }
    assert asyncio.run(parameters(get("client_id=a&client_id=b"))) is None


def test_the_redirect_keeps_the_clients_query_and_drops_its_fragment() -> None:
    assert with_query("https://rp.example/cb?x=1#f", {"code": "c", "state": "s t"}) == (
        "https://rp.example/cb?x=1&code=c&state=s+t"
    )
    assert with_query("https://rp.example/cb", {}) == "https://rp.example/cb"


def test_cookies_are_secure_only_over_tls() -> None:
    assert secure(get(scheme="https"))
    assert not secure(get())


# -- the consent page's digest ------------------------------------------------------------


def test_the_consent_digest_changes_with_the_session_or_what_was_listed() -> None:
    pending = Pending("p1", asked(), "browser-hash")
    session = BrowserSession("sid-1", "acc-1", NOW, "http://gaap.example/acr/low", ("pwd",))
    listed = Disclosure(frozenset({"email"}), frozenset())
    digest = shown(pending, session, listed)
    assert digest == shown(pending, session, listed)
    other_session = BrowserSession("sid-2", "acc-1", NOW, session.acr, session.amr)
    assert digest != shown(pending, other_session, listed)
    other_account = BrowserSession("sid-1", "acc-2", NOW, session.acr, session.amr)
    assert digest != shown(pending, other_account, listed)
    assert digest != shown(pending, session, Disclosure(frozenset({"email", "phone"})))


# -- what a refused attempt says -------------------------------------------------------------


@pytest.fixture(scope="module")
def pages() -> Pages:
    return Pages(WEB / "templates", WEB / "locales")


def test_a_wrong_password_and_an_unknown_address_read_the_same(pages: Pages) -> None:
    said = failure_message(
        pages, "en", Outcome.INVALID, "password", until=None, now=NOW, lock_minutes=15
    )
    assert said == "The email address or password is not right"


def test_a_lock_says_how_long_it_lasts(pages: Pages) -> None:
    until = NOW + timedelta(minutes=42, seconds=5)
    said = failure_message(
        pages, "en", Outcome.LOCKED, "code", until=until, now=NOW, lock_minutes=15
    )
    assert "43 minutes" in said


def test_minutes_left_says_the_configured_lock_when_the_lock_is_unknown_or_an_operators() -> None:
    assert minutes_left(None, NOW, 15) == 15
    assert minutes_left(NOW - timedelta(minutes=1), NOW, 15) == 15
    assert minutes_left(NOW + timedelta(days=2), NOW, 15) == 15
    assert minutes_left(NOW + timedelta(seconds=61), NOW, 15) == 2
