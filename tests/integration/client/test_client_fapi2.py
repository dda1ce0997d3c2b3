"""``OpenIdClient(..., fapi2=True)`` and ``GaapClient.from_credentials(fapi2=True)``
against the real identity, payments and notify, with identity's server nonces on
(on SQLite and PostgreSQL): an agency registered under the fapi2 profile signs a
citizen in through PAR, private_key_jwt and DPoP, reads UserInfo, refreshes and
revokes; its own tokens are bound and proven on every gRPC call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from gaap.common.v1 import caller_pb2
from joserfc.jwk import ECKey

from gaap_client import (
    GaapClient,
    OpenIdClient,
    PendingSignIn,
    PrivateKeyJwt,
    SignInError,
    Targets,
)
from gaap_client.dpop import DpopKey
from services.identity.domain.scopes import AGENCY_SCOPES
from tests.integration.oidc.conftest import CITIZEN_SCOPES, Citizen, make_citizen
from tests.support.oidc import CALLBACK, CitizenBrowser, callback_params
from tests.support.platform import Platform, running_platform


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The services with identity's real URL as issuer and its DPoP nonces on."""
    var = tmp_path_factory.mktemp("var")
    with running_platform(database_url, var, real_issuer=True, dpop_nonces=True) as running:
        yield running


def _fapi2_agency(platform: Platform) -> PrivateKeyJwt:
    key = ec.generate_private_key(ec.SECP256R1())
    public: dict[str, Any] = dict(ECKey.import_key(key.public_key()).as_dict(private=False))
    created = platform.admin.registry.create(
        name="Parking permits (FAPI 2.0)",
        scopes=[*CITIZEN_SCOPES, *AGENCY_SCOPES],
        redirect_uris=[CALLBACK],
        jwks={"keys": [{**public, "kid": "k1", "alg": "ES256"}]},
        profile="fapi2",
    )
    return PrivateKeyJwt(created.agency.client_id, key, kid="k1")


def _callback(platform: Platform, pending: PendingSignIn, citizen: Citizen) -> dict[str, str]:
    browser = CitizenBrowser(platform.identity.http_url)
    try:
        response = browser.sign_in(
            pending.url, citizen.email, citizen.password, citizen.totp_secret
        )
    finally:
        browser.client.close()
    return callback_params(response)


def test_a_fapi2_agency_signs_a_citizen_in_refreshes_and_revokes(platform: Platform) -> None:
    credentials = _fapi2_agency(platform)
    issuer = platform.settings.issuer
    client = OpenIdClient(issuer, credentials, CALLBACK, fapi2=True)
    assert client.dpop_key is not None
    citizen = make_citizen(platform)
    pending = client.start(scope="openid profile email offline_access")
    assert "request_uri=" in pending.url
    assert "code_challenge" not in pending.url  # the request stayed on the back channel
    signed_in = client.finish(pending, _callback(platform, pending, citizen))
    assert signed_in.token_type == "DPoP"
    assert signed_in.profile["email"] == citizen.email  # UserInfo took the DPoP token
    claims = jwt.decode(signed_in.access_token, options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": client.dpop_key.thumbprint}
    assert client.nonces.get(issuer)  # identity asked for a nonce, and it was kept
    assert signed_in.refresh_token
    refreshed = client.refresh(signed_in.refresh_token)
    assert refreshed.token_type == "DPoP"
    assert refreshed.refresh_token
    assert client.userinfo(refreshed.access_token, signed_in.subject)["sub"] == signed_in.subject
    client.revoke(refreshed.refresh_token)
    with pytest.raises(SignInError) as refused:
        client.refresh(refreshed.refresh_token)
    assert refused.value.error == "invalid_grant"


def test_a_fapi2_agency_is_refused_a_sign_in_without_the_profile(platform: Platform) -> None:
    """The same agency without ``fapi2=True``: no PAR, so identity refuses (PAR
    is required) and the refusal comes back as the sign-in's error."""
    credentials = _fapi2_agency(platform)
    plain = OpenIdClient(platform.settings.issuer, credentials, CALLBACK)
    pending = plain.start()
    answer = CitizenBrowser(platform.identity.http_url).get(pending.url)
    params = callback_params(answer)  # back to the (registered) redirect URI
    assert params["error"] == "invalid_request"
    with pytest.raises(SignInError) as refused:
        plain.finish(pending, params)
    assert refused.value.error == "invalid_request"


def test_a_code_is_redeemed_only_by_the_key_it_is_bound_to(platform: Platform) -> None:
    credentials = _fapi2_agency(platform)
    issuer = platform.settings.issuer
    pem = DpopKey.generate().to_pem()
    one = OpenIdClient(issuer, credentials, CALLBACK, fapi2=True, dpop_key=DpopKey.from_pem(pem))
    pending = one.start()
    params = _callback(platform, pending, make_citizen(platform))
    # A replica with its own key cannot use the code (checked before it is spent)...
    other = OpenIdClient(issuer, credentials, CALLBACK, fapi2=True)
    with pytest.raises(SignInError) as refused:
        other.finish(pending, params)
    assert refused.value.error == "invalid_dpop_key"
    # ...one configured with the same key can.
    two = OpenIdClient(issuer, credentials, CALLBACK, fapi2=True, dpop_key=DpopKey.from_pem(pem))
    assert two.finish(pending, params).token_type == "DPoP"


def test_identity_refuses_a_code_redeemed_with_another_key(platform: Platform) -> None:
    """Without the client's own check (a sign-in stored before it kept the key's
    thumbprint), identity is what refuses the proof by another key."""
    credentials = _fapi2_agency(platform)
    issuer = platform.settings.issuer
    pending = OpenIdClient(issuer, credentials, CALLBACK, fapi2=True).start()
    params = _callback(platform, pending, make_citizen(platform))
    unchecked = PendingSignIn.from_dict({**pending.to_dict(), "dpop_jkt": ""})
    other = OpenIdClient(issuer, credentials, CALLBACK, fapi2=True)
    with pytest.raises(SignInError) as refused:
        other.finish(unchecked, params)
    assert refused.value.error in ("invalid_grant", "invalid_dpop_proof")


def test_a_fapi2_agencys_own_tokens_are_bound_and_proven(platform: Platform) -> None:
    credentials = _fapi2_agency(platform)
    targets = Targets(
        platform.identity.grpc_target, platform.payments.grpc_target, platform.notify.grpc_target
    )
    with GaapClient.from_credentials(
        platform.token_url, credentials, targets, fapi2=True, issuer=platform.settings.issuer
    ) as client:
        me = client.caller(platform.payments.grpc_target).GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest()
        )
        assert me.client_id == credentials.client_id
        key = client.tokens.dpop
        assert key is not None
        claims = jwt.decode(client.tokens.token(), options={"verify_signature": False})
        assert claims["cnf"] == {"jkt": key.thumbprint}
