"""The rule for what an agency may receive: its registration bounds every claim,
and consent (by scope or claim by claim) is asked for exactly what is new."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from services.identity.domain import authorization, disclosure
from services.identity.domain.accounts import Account, released_claims
from services.identity.domain.agencies import Agency
from services.identity.domain.disclosure import Disclosure, releasable

REVIEWERS_CLAIMS = {"id_token": {"email": None, "phone_number": None, "address": None}}
WEB = Path(__file__).parents[2] / "services" / "identity" / "web"


def agency(scopes: tuple[str, ...]) -> Agency:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return Agency(
        client_id="ag_test",
        name="Test agency",
        mode="test",
        scopes=scopes,
        redirect_uris=("https://rp.example.gov/callback",),
        auth_methods=("client_secret_basic",),
        secret_hash=None,
        jwks=None,
        created_at=now,
    )


def parse(scopes: tuple[str, ...], claims: object) -> authorization.AuthorizationRequest:
    return authorization.parse(
        {
            "client_id": "ag_test",
            "redirect_uri": "https://rp.example.gov/callback",
            "response_type": "code",
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "claims": json.dumps(claims),
        },
        agency(scopes),
    )


def test_the_reviewers_claims_are_dropped_for_an_agency_registered_for_openid_only() -> None:
    request = parse(("openid",), REVIEWERS_CLAIMS)
    assert request.claims == {"id_token": {}}
    assert Disclosure.asked_by(request.scopes, request.claims) == Disclosure.of(["openid"])


def test_claims_the_registration_covers_stay_in_the_request_and_acr_is_kept() -> None:
    claims = {
        "id_token": {"email": {"essential": True}, "address": None, "acr": {"values": ["Cl.Cm"]}},
        "userinfo": {"phone_number": None, "given_name": None},
    }
    request = parse(("openid", "email", "phone"), claims)
    assert request.claims == {
        "id_token": {"email": {"essential": True}, "acr": {"values": ["Cl.Cm"]}},
        "userinfo": {"phone_number": None},
    }
    assert request.acr == "Cl.Cm"


@pytest.mark.parametrize(
    ("scopes", "one_by_one", "registered", "expected"),
    [
        ((), {"email", "phone_number", "address"}, {"openid"}, set()),
        (("email",), set(), {"openid"}, set()),  # a scope the registration lacks
        ((), {"email"}, {"openid", "email"}, {"email"}),
        (("email",), {"address"}, {"openid", "email"}, {"email", "email_verified"}),
        (("profile",), set(), {"profile"}, set(disclosure.SCOPE_CLAIMS["profile"])),
        ((), {"sub", "acr", "nonsense"}, {"openid", "profile"}, set()),
    ],
)
def test_releasable_never_exceeds_the_registration(
    scopes: tuple[str, ...], one_by_one: set[str], registered: set[str], expected: set[str]
) -> None:
    assert releasable(scopes, one_by_one, registered) == expected


def test_consent_page_lists_only_what_is_new() -> None:
    given = Disclosure.of(["openid", "email"], ["phone_number"])
    wanted = Disclosure.of(
        ["openid", "profile"], ["email", "phone_number", "address", "given_name"]
    )
    # email: its scope was agreed; phone_number: agreed on its own; given_name:
    # its scope is asked now, so the scope's line covers it.
    assert given.missing(wanted) == Disclosure.of(["profile"], ["address"])
    assert not given.merged(wanted).missing(wanted)


def test_nothing_agreed_means_everything_is_asked() -> None:
    wanted = Disclosure.asked_by(["openid"], REVIEWERS_CLAIMS)
    assert Disclosure().missing(wanted) == wanted
    assert wanted.claims == {"email", "phone_number", "address"}


def test_what_a_consent_releases_is_bounded_by_the_registration_of_today() -> None:
    given = Disclosure.of(["openid", "email"], ["phone_number", "address"])
    assert given.released({"openid", "email", "phone"}) == {
        "email",
        "email_verified",
        "phone_number",
    }
    assert given.released({"openid"}) == set()


def test_released_claims_are_the_names_given_and_only_those_the_account_has() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    account = Account(
        id="acc_1",
        email="ada@example.org",
        email_verified=True,
        password_hash="x",
        created_at=now,
        updated_at=now,
        phone_number="+447700900001",
    )
    assert released_claims(account, {"email", "address"}) == {"email": "ada@example.org"}
    assert released_claims(account, ()) == {}


def test_every_personal_claim_has_a_label_translated_for_the_pages() -> None:
    assert set(disclosure.CLAIM_LABELS) == set(disclosure.PERSONAL_CLAIMS)
    with (WEB / "locales" / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        translated = {m.id: m.string for m in read_po(f) if m.id}
    assert [label for label in disclosure.CLAIM_LABELS.values() if not translated.get(label)] == []
