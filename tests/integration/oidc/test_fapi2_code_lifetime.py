"""A fapi2 agency's authorization code lives at most 60 seconds (FAPI 2.0
§5.3.2.1), over HTTP on SQLite and PostgreSQL: each code is stored for 60
seconds, and one 61 seconds old is refused while a fresh one is redeemed.

The code is aged by moving ``Platform.clock``, which every identity use case
runs on (its bootstrap passes it through), not by editing its row: the test
reads no time of its own, and writes nothing behind identity's back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa

from services.identity.adapters.tables import authorization_codes
from services.identity.domain.citizen_tokens import hash_value
from services.runtime.db import transaction
from tests.integration.oidc.conftest import CITIZEN_SCOPES, make_citizen
from tests.support.dpop_proofs import Prover
from tests.support.oidc import CALLBACK, CitizenBrowser, callback_params, pkce_pair
from tests.support.platform import (
    ASSERTION_TYPE,
    ISSUER,
    TOKEN_ENDPOINT,
    Platform,
)
from tests.support.request_objects import RequestSigner


class Fapi2Agency:
    """A fapi2 agency: private_key_jwt by its key, its proofs by ``prover``.
    Client assertions are on the wall clock (authlib checks them on it); a
    proof's iat is identity's clock, which the test moves."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.signer = RequestSigner()
        self.prover = Prover()
        created = platform.admin.registry.create(
            name="Clocked permits",
            scopes=CITIZEN_SCOPES,
            redirect_uris=[CALLBACK],
            jwks=self.signer.jwks,
            profile="fapi2",
        )
        self.client_id = created.agency.client_id

    def authentication(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.signer.assertion(self.client_id, ISSUER),
        }

    def proof(self, url: str) -> dict[str, str]:
        now = self.platform.clock().timestamp()
        return {"DPoP": self.prover.proof("POST", url, iat=now)}

    def code(
        self, browser: CitizenBrowser, email: str, password: str, totp: str
    ) -> tuple[str, str]:
        """A citizen's code through PAR, and its PKCE verifier."""
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid email",
            "state": uuid.uuid4().hex,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        pushed = httpx.post(
            self.platform.identity.http_url + "/par",
            data={**params, **self.authentication()},
            headers=self.proof(ISSUER + "/par"),
        )
        assert pushed.status_code == 201, pushed.text
        start = "/authorize?" + urlencode(
            {"client_id": self.client_id, "request_uri": pushed.json()["request_uri"]}
        )
        done = browser.sign_in(start, email, password, totp)
        return callback_params(done)["code"], verifier

    def redeem(self, code: str, verifier: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            **self.authentication(),
        }
        return httpx.post(self.platform.token_url, data=form, headers=self.proof(TOKEN_ENDPOINT))


def codes_of(platform: Platform, client_id: str) -> list[sa.Row[Any]]:
    with transaction(platform.admin.database.sessions) as session:
        return list(
            session.execute(
                sa.select(
                    authorization_codes.c.code_hash,
                    authorization_codes.c.created_at,
                    authorization_codes.c.expires_at,
                ).where(authorization_codes.c.client_id == client_id)
            )
        )


def test_a_fapi2_agencys_code_lives_60_seconds_and_is_refused_after(
    platform: Platform,
) -> None:
    agency = Fapi2Agency(platform)
    citizen = make_citizen(platform)
    browser = CitizenBrowser(platform.identity.http_url)
    aged = timedelta(seconds=61)
    try:
        signed_in = (citizen.email, citizen.password, citizen.totp_secret)
        old_code, old_verifier = agency.code(browser, *signed_in)
        platform.clock.advance(aged)  # identity's time: the old code is now 61 s old
        code, verifier = agency.code(browser, *signed_in)
    finally:
        browser.client.close()

    rows = {row.code_hash: row for row in codes_of(platform, agency.client_id)}
    old, fresh = rows[hash_value(old_code)], rows[hash_value(code)]
    assert [row.expires_at - row.created_at for row in (old, fresh)] == [timedelta(seconds=60)] * 2
    assert fresh.created_at - old.created_at >= aged  # both stamped by the moved clock
    late = agency.redeem(old_code, old_verifier)
    assert late.status_code == 400, late.text
    assert late.json() == {
        "error": "invalid_grant",
        "error_description": "authorization code expired",
    }
    redeemed = agency.redeem(code, verifier)
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["token_type"] == "DPoP"
