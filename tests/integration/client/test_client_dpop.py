"""``GaapClient(..., dpop=True)`` against the real services: DPoP-bound tokens and
a fresh proof on every gRPC call (payments' and notify's default public URLs)."""

from __future__ import annotations

import httpx
import jwt
import pytest
from gaap.common.v1 import caller_pb2
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client import GaapClient, Targets
from gaap_client.calls import CallPolicy
from gaap_client.dpop import DpopKey
from gaap_client.dpop_http import DpopAuth
from tests.support.platform import Platform


def _client(platform: Platform) -> GaapClient:
    agency = platform.secret_agency()
    targets = Targets(
        platform.identity.grpc_target, platform.payments.grpc_target, platform.notify.grpc_target
    )
    return GaapClient.from_secret(
        platform.token_url, agency.client_id, agency.client_secret, targets, dpop=True
    )


def test_a_dpop_client_gets_bound_tokens_and_proves_every_call(platform: Platform) -> None:
    with _client(platform) as client:
        key = client.tokens.dpop
        assert key is not None
        claims = jwt.decode(client.tokens.token(), options={"verify_signature": False})
        assert claims["cnf"] == {"jkt": key.thumbprint}
        created = client.payments.CreatePayment(
            ppb.CreatePaymentRequest(
                amount=1250,
                reference="REF-1",
                description="Permit",
                return_url="http://127.0.0.1:9/done",
            )
        )
        for _ in range(2):  # a new proof each time: no replay
            fetched = client.payments.GetPayment(ppb.GetPaymentRequest(payment_id=created.id))
            assert fetched.id == created.id
        me = client.caller(platform.notify.grpc_target).GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest()
        )
        assert me.client_id == client.tokens.credentials.client_id
        assert client.tokens.issued == 1


def test_a_dpop_policy_needs_the_services_public_url() -> None:
    with pytest.raises(ValueError, match="public base URL"):
        CallPolicy(None, dpop=DpopKey.generate())
    with pytest.raises(ValueError, match="DPoP needs its public URL"):
        Targets().public_url("127.0.0.1:1")


def test_dpop_auth_proves_a_bound_token_on_the_json_endpoints(platform: Platform) -> None:
    """The services' JSON (Connect) endpoints take the same proof over HTTP:
    ``DpopAuth`` signs each request; the bound token alone is refused."""
    with _client(platform) as client:
        key = client.tokens.dpop
        assert key is not None
        token = client.tokens.token()
        path = "/gaap.common.v1.CallerService/GetCallerIdentity"
        # payments' public URL (the default, as for gRPC), not the port it listens on.
        auth = DpopAuth(
            key, client.tokens.nonces, access_token=token, htu=Targets().payments_url + path
        )
        url = platform.payments.http_url + path
        for _ in range(2):  # a fresh proof each time
            answer = httpx.post(url, json={}, auth=auth)
            assert answer.status_code == 200, answer.text
            assert answer.json()["clientId"] == client.tokens.credentials.client_id
        bare = httpx.post(url, json={}, headers={"authorization": f"DPoP {token}"})
        assert bare.status_code == 401
        as_bearer = httpx.post(url, json={}, headers={"authorization": f"Bearer {token}"})
        assert as_bearer.status_code == 401
        assert as_bearer.headers["www-authenticate"].startswith("DPoP")
