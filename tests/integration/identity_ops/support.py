"""Helpers for identity's operator and agency gRPC tests: agencies with identity
scopes, citizens and their tokens, errors' field violations."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from gaap.identity.v1 import identity_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.identity.adapters.token_store import SqlAuthorizationCodes
from services.identity.domain.accounts import Account
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.service_layer.citizen_tokens import TokenSet, s256
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from tests.support.platform import Platform, SecretAgency, bearer

REDIRECT_URI = "https://agency.example.gov/callback"
CITIZEN_SCOPES = ("identity:tokens", "openid", "email", "profile", "offline_access")
OPERATOR_SCOPES = ("identity:agencies", "identity:accounts", "identity:audit")


@dataclass
class Caller:
    """An agency and a gRPC stub that calls identity with its token."""

    agency: SecretAgency
    stub: identity_pb2_grpc.IdentityServiceStub
    metadata: tuple[tuple[str, str], ...]


def caller(platform: Platform, scopes: Sequence[str], token_scope: str | None = None) -> Caller:
    agency = platform.admin.registry.create(
        name=f"Agency {uuid.uuid4().hex[:6]}", scopes=list(scopes), redirect_uris=[REDIRECT_URI]
    )
    assert agency.client_secret
    secret = SecretAgency(agency.agency.client_id, agency.client_secret)
    scope = token_scope or " ".join(s for s in scopes if ":" in s)
    return Caller(
        secret,
        identity_pb2_grpc.IdentityServiceStub(platform.channel("identity")),
        bearer(platform.token(secret, scope=scope)),
    )


def citizen(platform: Platform, **profile: Any) -> Account:
    return platform.admin.accounts.create(
        email=f"citizen-{uuid.uuid4().hex[:8]}@example.org",
        password="correct horse battery",
        email_verified=True,
        **profile,
    )


def citizen_tokens(
    platform: Platform,
    client_id: str,
    account_id: str,
    scopes: Sequence[str] = ("openid", "email", "profile", "offline_access"),
) -> TokenSet:
    """Tokens as the code flow issues them: a code for a signed-in session,
    redeemed with its PKCE verifier."""
    tokens = platform.admin.citizen_tokens
    verifier = secrets.token_urlsafe(48)
    request = AuthorizationRequest(
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        scopes=tuple(scopes),
        state=None,
        nonce=None,
        code_challenge=s256(verifier),
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
    with transaction(platform.admin.database.sessions) as session:
        code = tokens.create_code(
            SqlAuthorizationCodes(session),
            request,
            account_id=account_id,
            sid=uuid.uuid4().hex,
            acr="Cl",
            amr=["pwd"],
            auth_time=utcnow(),
        )
    agency = platform.admin.registry.get(client_id)
    return tokens.redeem_code(agency, code, REDIRECT_URI, verifier)


def violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, error
    found: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.update({v.field: v.description for v in bad.field_violations})
    return found
