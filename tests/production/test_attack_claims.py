"""Attacks on what a citizen shares, shown refused (SQLite and PostgreSQL).

An agency may receive a personal claim only when its registration covers it, it
asked for it, and the citizen agreed to it for that agency. The ``claims``
parameter used to go round all three: an agency registered for ``openid`` only
got email, phone and address in the ID token and from UserInfo, with no consent
page. Here every way round is tried: the ``id_token`` and ``userinfo`` members,
essential claims, ``prompt=none``, another agency's consent, refresh tokens, a
registration narrowed later, UserInfo over HTTP and gRPC. And consent goes only
to the account that saw the list: a consent page loaded as one account and
allowed after a sign-in as another, or after what was agreed changed, grants
nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from gaap.identity.v1 import identity_pb2, identity_pb2_grpc

from services.identity.adapters.tables import audit_events, authorization_codes, consents
from tests.integration.accounts.helpers import post_form
from tests.support.oidc import (
    CALLBACK,
    SIGNED_OUT,
    CitizenBrowser,
    RelyingParty,
    callback_params,
    decode_unverified,
)
from tests.support.platform import Platform, bearer, running_platform

PERSONAL = {
    "name",
    "given_name",
    "family_name",
    "locale",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
}
# The outside reviewer's request, word for word.
REVIEWERS_CLAIMS = json.dumps({"id_token": {"email": None, "phone_number": None, "address": None}})
EVERY_WAY = json.dumps(
    {
        "id_token": {c: {"essential": True} for c in sorted(PERSONAL)},
        "userinfo": dict.fromkeys(sorted(PERSONAL)),
    }
)


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
        yield running


class Citizen:
    def __init__(self, platform: Platform) -> None:
        self.secret = pyotp.random_base32()
        self.email = f"citizen-{uuid.uuid4().hex[:8]}@example.gov.test"
        self.password = "correct horse battery"
        self.account_id = platform.admin.accounts.create(
            email=self.email,
            password=self.password,
            email_verified=True,
            totp_secret=self.secret,
            given_name="Ada",
            family_name="Lovelace",
            phone_number="+447700900001",
            address={"street_address": "1 Horse Guards Road", "postal_code": "SW1A 2HQ"},
            locale="en",
        ).id
        self.browser = CitizenBrowser(platform.identity.http_url)

    def start(self, url: str) -> httpx.Response:
        """From an authorization URL to the first page that needs the citizen
        (sign-in, consent) or the redirect back to the agency."""
        page = self.browser.follow(self.browser.get(url))
        if 'name="password"' in page.text:
            page = self.browser.follow(
                self.browser.submit(page, email=self.email, password=self.password)
            )
        if 'name="code"' in page.text:
            code = pyotp.TOTP(self.secret).now()
            page = self.browser.follow(self.browser.submit(page, code=code))
        return page

    def allow(self, page: httpx.Response) -> dict[str, str]:
        assert 'name="decision"' in page.text, page.text[:1500]
        return callback_params(self.browser.follow(self.browser.submit(page, decision="allow")))


@pytest.fixture
def citizen(platform: Platform) -> Iterator[Citizen]:
    c = Citizen(platform)
    yield c
    c.browser.client.close()


def agency(
    platform: Platform, scopes: Sequence[str], name: str = "Parking permits"
) -> RelyingParty:
    created = platform.admin.registry.create(
        name=name,
        scopes=list(scopes),
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[SIGNED_OUT],
    )
    return RelyingParty(platform.identity.http_url, created.agency.client_id, created.client_secret)


def tokens_for(rp: RelyingParty, params: dict[str, str], verifier: str) -> dict[str, Any]:
    assert "code" in params, params
    response = rp.redeem(params["code"], verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def userinfo(platform: Platform, access_token: str) -> dict[str, Any]:
    response = httpx.get(
        platform.identity.http_url + "/userinfo",
        headers={"authorization": f"Bearer {access_token}"},
    )
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()
    return info


def personal(claims: dict[str, Any]) -> set[str]:
    return set(claims) & PERSONAL


def consent_lines(page: httpx.Response) -> list[str]:
    """What the consent page asks for, one line each."""
    listed = re.search(r"<ul>(.*?)</ul>", page.text, re.S)
    assert listed, page.text[:1500]
    return [re.sub(r"\s+", " ", li).strip() for li in re.findall(r"<li>(.*?)</li>", listed[1])]


def consented_accounts(platform: Platform, client_id: str) -> set[str]:
    c = consents
    with platform.admin.database.sessions() as session:
        return set(session.scalars(sa.select(c.c.account_id).where(c.c.client_id == client_id)))


def codes_issued(platform: Platform, client_id: str) -> list[str]:
    """The accounts codes were issued to for this agency."""
    a = authorization_codes
    with platform.admin.database.sessions() as session:
        return list(session.scalars(sa.select(a.c.account_id).where(a.c.client_id == client_id)))


def granted_events(platform: Platform, account_id: str, client_id: str) -> list[dict[str, Any]]:
    e = audit_events
    query = (
        sa.select(e.c.details)
        .where(
            e.c.type == "consent.granted", e.c.account_id == account_id, e.c.client_id == client_id
        )
        .order_by(e.c.at)
    )
    with platform.admin.database.sessions() as session:
        return [dict(d) for d in session.scalars(query)]


# -- registration: what the agency may never get -------------------------------------------------


def test_the_reviewers_request_releases_nothing_the_registration_does_not_cover(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid"])
    first = rp.auth_request(scope="openid")
    page = citizen.start(first.url)
    assert consent_lines(page) == ["confirm who you are when you sign in"]
    tokens_for(rp, citizen.allow(page), first.verifier)

    attack = rp.auth_request(scope="openid", claims=REVIEWERS_CLAIMS)
    tokens = tokens_for(rp, callback_params(citizen.start(attack.url)), attack.verifier)

    assert personal(decode_unverified(tokens["id_token"])) == set()
    assert personal(userinfo(platform, tokens["access_token"])) == set()


def test_no_member_and_no_essential_flag_reaches_claims_outside_the_registration(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "identity:tokens"])
    request = rp.auth_request(scope="openid", claims=EVERY_WAY)
    page = citizen.start(request.url)
    # Nothing outside the registration is even asked.
    assert consent_lines(page) == ["confirm who you are when you sign in"]
    tokens = tokens_for(rp, citizen.allow(page), request.verifier)
    assert personal(decode_unverified(tokens["id_token"])) == set()
    assert personal(userinfo(platform, tokens["access_token"])) == set()
    # The gRPC UserInfo method answers the same.
    assert rp.client_secret
    own = httpx.post(
        platform.token_url,
        data={"grant_type": "client_credentials", "scope": "identity:tokens"},
        auth=(rp.client_id, rp.client_secret),
    ).json()["access_token"]
    info = identity_pb2_grpc.IdentityServiceStub(platform.channel("identity")).GetUserInfo(
        identity_pb2.GetUserInfoRequest(access_token=tokens["access_token"]),
        metadata=bearer(own),
    )
    assert personal(dict(info.claims)) == set()
    # And what the citizen agreed to says so.
    events = granted_events(platform, citizen.account_id, rp.client_id)
    assert [e["released_claims"] for e in events] == [[]]


def test_a_refresh_token_from_the_reviewers_request_gives_no_more(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "offline_access"])
    request = rp.auth_request(scope="openid offline_access", claims=REVIEWERS_CLAIMS)
    tokens = tokens_for(rp, citizen.allow(citizen.start(request.url)), request.verifier)
    refreshed = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert personal(decode_unverified(body["id_token"])) == set()
    assert personal(userinfo(platform, body["access_token"])) == set()


def test_a_registration_narrowed_later_bounds_refresh_and_userinfo(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "email", "phone", "offline_access"])
    claims = json.dumps({"id_token": {"phone_number": None}})
    request = rp.auth_request(scope="openid email offline_access", claims=claims)
    tokens = tokens_for(rp, citizen.allow(citizen.start(request.url)), request.verifier)
    assert decode_unverified(tokens["id_token"])["phone_number"] == "+447700900001"
    assert userinfo(platform, tokens["access_token"])["email"] == citizen.email

    platform.admin.registry.update(rp.client_id, {"scopes": ["openid", "offline_access"]})

    assert personal(userinfo(platform, tokens["access_token"])) == set()
    refreshed = rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["scope"] == "openid offline_access"
    assert personal(decode_unverified(body["id_token"])) == set()
    assert personal(userinfo(platform, body["access_token"])) == set()


# -- consent: what the citizen has not agreed to -------------------------------------------------


def test_claims_the_registration_allows_still_need_consent_and_only_they_are_asked(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "email", "phone", "address"])
    first = rp.auth_request(scope="openid")
    tokens_for(rp, citizen.allow(citizen.start(first.url)), first.verifier)

    attack = rp.auth_request(scope="openid", claims=REVIEWERS_CLAIMS)
    page = citizen.start(attack.url)
    # The consent page is shown, listing exactly what is new.
    assert consent_lines(page) == [
        "see this detail: your email address",
        "see this detail: your phone number",
        "see this detail: your postal address",
    ]
    denied = callback_params(citizen.browser.follow(citizen.browser.submit(page, decision="deny")))
    assert denied["error"] == "access_denied"
    assert "code" not in denied

    again = rp.auth_request(scope="openid", claims=REVIEWERS_CLAIMS)
    tokens = tokens_for(rp, citizen.allow(citizen.start(again.url)), again.verifier)
    id_claims = decode_unverified(tokens["id_token"])
    assert (id_claims["email"], id_claims["phone_number"]) == (citizen.email, "+447700900001")
    assert id_claims["address"]["postal_code"] == "SW1A 2HQ"
    # Agreed once, not asked again.
    later = rp.auth_request(scope="openid", claims=json.dumps({"userinfo": {"email": None}}))
    assert "code" in callback_params(citizen.start(later.url))
    # The audit trail says which claims were released.
    events = granted_events(platform, citizen.account_id, rp.client_id)
    assert events[-1]["added_claims"] == ["address", "email", "phone_number"]
    assert events[-1]["released_claims"] == ["address", "email", "phone_number"]


def test_prompt_none_answers_consent_required_for_a_new_claim(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "email", "phone"])
    first = rp.auth_request(scope="openid")
    tokens_for(rp, citizen.allow(citizen.start(first.url)), first.verifier)
    for claims in (
        {"id_token": {"email": None}},
        {"userinfo": {"phone_number": {"essential": True}}},
    ):
        silent = rp.auth_request(scope="openid", prompt="none", claims=json.dumps(claims))
        answer = callback_params(citizen.browser.get(silent.url))
        assert answer["error"] == "consent_required", claims
        assert "code" not in answer


def test_one_agencys_consent_is_never_another_agencys(platform: Platform, citizen: Citizen) -> None:
    scopes = ["openid", "email"]
    trusted, other = agency(platform, scopes, "Trusted"), agency(platform, scopes, "Other")
    claims = json.dumps({"id_token": {"email": None}})
    request = trusted.auth_request(scope="openid", claims=claims)
    tokens_for(trusted, citizen.allow(citizen.start(request.url)), request.verifier)
    first = other.auth_request(scope="openid")
    tokens_for(other, citizen.allow(citizen.start(first.url)), first.verifier)

    silent = other.auth_request(scope="openid", prompt="none", claims=claims)
    assert callback_params(citizen.browser.get(silent.url))["error"] == "consent_required"
    page = citizen.start(other.auth_request(scope="openid", claims=claims).url)
    assert consent_lines(page) == ["see this detail: your email address"]


def test_a_scope_agreed_before_covers_its_claims_and_new_scopes_are_asked_alone(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "email", "profile"])
    first = rp.auth_request(scope="openid email")
    page = citizen.start(first.url)
    assert consent_lines(page) == [
        "confirm who you are when you sign in",
        "see your email address",
    ]
    tokens_for(rp, citizen.allow(page), first.verifier)
    # email is covered by the email scope already agreed; profile is new.
    claims = json.dumps({"id_token": {"email": None, "given_name": None}})
    request = rp.auth_request(scope="openid profile", claims=claims)
    page = citizen.start(request.url)
    assert consent_lines(page) == ["see your name"]
    tokens = tokens_for(rp, citizen.allow(page), request.verifier)
    id_claims = decode_unverified(tokens["id_token"])
    assert (id_claims["email"], id_claims["given_name"]) == (citizen.email, "Ada")


# -- what the citizen sees afterwards ------------------------------------------------------------


def test_the_account_page_says_which_claims_each_agency_receives(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "email", "phone"], "Claims shown")
    claims = json.dumps({"userinfo": {"phone_number": None}, "id_token": {"address": None}})
    request = rp.auth_request(scope="openid email", acr_values="Cl.Cm", claims=claims)
    tokens_for(rp, citizen.allow(citizen.start(request.url)), request.verifier)
    page = citizen.browser.get("/account")
    assert page.status_code == 200, page.text[:1500]
    row = re.search(r"<tr>\s*<td>Claims shown</td>(.*?)</tr>", page.text, re.S)
    assert row, page.text[:3000]
    shared = re.findall(r"<li>(.*?)</li>", row[1])
    assert shared == [
        "your email address",
        "whether your email address is confirmed",
        "your phone number",
    ]
    chinese = citizen.browser.get("/account?lang=zh-Hans")
    assert "您的电话号码" in chinese.text


def test_consents_are_stored_per_claim(platform: Platform, citizen: Citizen) -> None:
    rp = agency(platform, ["openid", "email", "phone"])
    claims = json.dumps({"id_token": {"phone_number": None}})
    request = rp.auth_request(scope="openid email", claims=claims)
    tokens_for(rp, citizen.allow(citizen.start(request.url)), request.verifier)
    c = consents
    with platform.admin.database.sessions() as session:
        row = session.execute(
            sa.select(c.c.scopes, c.c.claims).where(
                c.c.account_id == citizen.account_id, c.c.client_id == rp.client_id
            )
        ).one()
    assert (sorted(row.scopes), row.claims) == (["email", "openid"], ["phone_number"])


# -- consent goes to the account that saw the list -----------------------------------------------

SWITCHED = "You are now signed in to another account, or what is asked has changed."


def test_allow_from_a_page_shown_to_another_account_grants_nothing_to_anyone(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "email"])
    a = citizen
    b = Citizen(platform)
    b.browser = a.browser  # one browser, one cookie jar: another tab
    shown_to_a = a.start(rp.auth_request(scope="openid email").url)
    assert consent_lines(shown_to_a) == [
        "confirm who you are when you sign in",
        "see your email address",
    ]
    # Another tab: sign in as B (prompt=login asks for the password even with
    # A signed in); B's own consent page is left unanswered.
    b_request = rp.auth_request(scope="openid", prompt="login")
    shown_to_b = b.start(b_request.url)
    assert 'name="decision"' in shown_to_b.text

    answer = a.browser.submit(shown_to_a, decision="allow")

    # Refused: the page again, for B, listing what is new for B; nothing granted.
    assert answer.status_code == 409, answer.text[:1500]
    assert SWITCHED in answer.text
    assert consent_lines(answer) == [
        "confirm who you are when you sign in",
        "see your email address",
    ]
    assert consented_accounts(platform, rp.client_id) == set()
    assert codes_issued(platform, rp.client_id) == []
    assert granted_events(platform, b.account_id, rp.client_id) == []
    assert granted_events(platform, a.account_id, rp.client_id) == []
    # B, having now seen the list, may allow it: granted to B alone.
    params = callback_params(a.browser.follow(a.browser.submit(answer, decision="allow")))
    assert "code" in params, params
    assert consented_accounts(platform, rp.client_id) == {b.account_id}
    assert codes_issued(platform, rp.client_id) == [b.account_id]


def test_allow_after_what_was_agreed_changed_grants_nothing_unlisted(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid", "email"], "Withdrawn meanwhile")
    first = rp.auth_request(scope="openid", acr_values="Cl.Cm")
    tokens_for(rp, citizen.allow(citizen.start(first.url)), first.verifier)
    page = citizen.start(rp.auth_request(scope="openid email").url)
    assert consent_lines(page) == ["see your email address"]
    # Another tab: the citizen withdraws this agency's consent.
    account = citizen.browser.get("/account")
    assert post_form(citizen.browser, account, "/account/consents/withdraw").status_code == 303

    answer = citizen.browser.submit(page, decision="allow")

    # "openid" was never on the page that was allowed: nothing granted.
    assert answer.status_code == 409, answer.text[:1500]
    assert consent_lines(answer) == [
        "confirm who you are when you sign in",
        "see your email address",
    ]
    assert consented_accounts(platform, rp.client_id) == set()
    params = callback_params(
        citizen.browser.follow(citizen.browser.submit(answer, decision="allow"))
    )
    assert "code" in params, params
    assert consented_accounts(platform, rp.client_id) == {citizen.account_id}


def test_prompt_consent_given_by_one_account_never_serves_another(
    platform: Platform, citizen: Citizen
) -> None:
    rp = agency(platform, ["openid"], "Asked every time")
    a, b = citizen, Citizen(platform)
    b.browser = a.browser
    # B agreed to this agency before, in the same browser.
    earlier = rp.auth_request(scope="openid")
    tokens_for(rp, b.allow(b.start(earlier.url)), earlier.verifier)
    # A is asked (prompt=consent) and allows; before the redirect back is
    # followed, B signs in again in another tab.
    request = rp.auth_request(scope="openid", prompt="consent login")
    page = a.start(request.url)
    allowed = a.browser.submit(page, decision="allow")
    assert allowed.status_code == 303, allowed.text[:1500]
    signin = a.browser.get("/account/signin")
    assert a.browser.submit(signin, email=b.email, password=b.password).status_code == 303
    answer = a.browser.follow(allowed)
    # A's yes is not B's: B is asked, and no code is issued meanwhile.
    assert 'name="decision"' in answer.text, answer.text[:1500]
    assert codes_issued(platform, rp.client_id).count(b.account_id) == 1  # the earlier one
