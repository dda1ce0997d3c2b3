"""A token side of identity on in-memory fakes: a key store with published keys,
the citizen-token use cases, an agency and a citizen, a clock to move."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.identity.domain import signing_keys
from services.identity.domain.accounts import Account
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.citizen_tokens import s256
from services.identity.domain.signing_keys import ID_TOKEN_ALGORITHMS, SigningKey
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.keys import KeyStore
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.keys import KeyCache
from tests.fakes.identity_tokens import MemoryAgencies, TokenState, token_transactions
from tests.fakes.transactions import FakeTransactions

ISSUER = "https://id.example.gov"
REDIRECT_URI = "https://agency.example.gov/callback"
CITIZEN_SCOPES = ("openid", "email", "profile", "offline_access")


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def agency(
    client_id: str = "ag_one", scopes: tuple[str, ...] = CITIZEN_SCOPES, **kw: Any
) -> Agency:
    values: dict[str, Any] = {
        "client_id": client_id,
        "name": f"Agency {client_id}",
        "mode": "test",
        "scopes": scopes,
        "redirect_uris": (REDIRECT_URI,),
        "auth_methods": ("client_secret_basic",),
        "secret_hash": None,
        "jwks": None,
        "created_at": datetime(2030, 1, 1, tzinfo=UTC),
        **kw,
    }
    return Agency(**values)


def citizen(account_id: str = "acc_1") -> Account:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    return Account(
        id=account_id,
        email="ada@example.org",
        email_verified=True,
        password_hash="x",
        created_at=at,
        updated_at=at,
        given_name="Ada",
        family_name="Lovelace",
    )


@dataclass
class World:
    uow: FakeTransactions[TokenState]
    clock: Clock
    keys: KeyStore
    tokens: CitizenTokens
    agencies: MemoryAgencies

    @property
    def state(self) -> TokenState:
        return self.uow.state

    def verifier(self) -> AccessTokenVerifier:
        return AccessTokenVerifier(
            issuer=ISSUER,
            audience=self.tokens.userinfo_audience,
            keys=KeyCache(self.keys.jwks, max_age=0, min_refresh_interval=0),
            clock=self.clock.timestamp,
        )

    def code(
        self,
        client: Agency,
        verifier: str,
        *,
        scopes: tuple[str, ...] = CITIZEN_SCOPES,
        account_id: str = "acc_1",
        sid: str = "sid_1",
        nonce: str | None = "n-1",
        claims: dict[str, Any] | None = None,
        dpop_jkt: str | None = None,
    ) -> str:
        request = AuthorizationRequest(
            client_id=client.client_id,
            redirect_uri=REDIRECT_URI,
            scopes=scopes,
            state=None,
            nonce=nonce,
            code_challenge=s256(verifier),
            prompt=frozenset(),
            max_age=None,
            login_hint=None,
            ui_locales=(),
            claims_locales=(),
            acr="Cl",
            acr_essential=False,
            display="page",
            claims=claims,
            dpop_jkt=dpop_jkt,
        )
        with self.uow() as uow:
            return self.tokens.create_code(
                uow.authorization_codes,
                request,
                account_id=account_id,
                sid=sid,
                acr="Cl",
                amr=["pwd"],
                auth_time=self.clock.now,
            )


@functools.cache
def first_keys() -> tuple[SigningKey, ...]:
    """One key per algorithm, made once: RSA keys take a while to generate."""
    made = signing_keys.first_keys(
        [], ID_TOKEN_ALGORITHMS, datetime(2030, 1, 1, tzinfo=UTC), propagation=timedelta(0)
    )
    return tuple(made)


def world() -> World:
    uow = token_transactions()
    clock = Clock(datetime(2030, 1, 2, tzinfo=UTC))
    for key in first_keys():
        uow.state.signing_keys.add(key)
    keys = KeyStore(uow, clock=clock, algorithms=ID_TOKEN_ALGORITHMS, refresh_seconds=0)
    keys.ensure_signing_key()  # finds every algorithm's key there already
    tokens = CitizenTokens(uow, keys, issuer=ISSUER, salt=b"salt" * 8, clock=clock)
    uow.state.accounts.rows["acc_1"] = citizen()
    agencies = MemoryAgencies({"ag_one": agency()})
    return World(uow, clock, keys, tokens, agencies)


def new_verifier() -> str:
    return secrets.token_urlsafe(48)
