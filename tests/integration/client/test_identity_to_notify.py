"""identity's client of notify as IDENTITY_MESSAGING=notify builds it: the token
from identity's real token endpoint, called in-process (gaap_client's TokenSource
with an httpx transport, no HTTP), then a message through the real notify."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gaap.notify.v1 import notify_pb2, notify_pb2_grpc

from gaap_client import TokenError
from services.identity.adapters import messaging
from services.identity.adapters.notify_messenger import NotifyMessenger, notify_client
from services.identity.domain.messages import Kind
from services.identity.settings import IdentitySettings
from tests.support.platform import Platform, bearer, running_platform

SCOPES = "notify:send notify:templates"


@pytest.fixture(scope="module")
def platform_and_token_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Platform, Any]]:
    """The platform, and identity's own token server (kept from its wiring)."""
    kept: list[Any] = []
    real_postbox = messaging.postbox

    def keeping(settings: IdentitySettings, token_server: Any) -> Any:
        kept.append(token_server)
        return real_postbox(settings, token_server)

    patch = pytest.MonkeyPatch()
    patch.setattr(messaging, "postbox", keeping)
    try:
        with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
            patch.undo()
            yield running, kept[0]
    finally:
        patch.undo()


def test_identity_sends_through_notify_with_a_token_from_its_own_endpoint(
    platform_and_token_server: tuple[Platform, Any],
) -> None:
    platform, token_server = platform_and_token_server
    agency = platform.secret_agency(scopes=["notify:send", "notify:templates", "notify:read"])
    with notify_client(
        platform.notify.grpc_target,
        agency.client_id,
        agency.client_secret,
        token_server.token_endpoint,
        token_server.token_response,
        SCOPES,
    ) as client:
        NotifyMessenger(client.notify).send(
            Kind.VERIFY_EMAIL, "ada@example.org", "en", {"code": "246810", "minutes": "15"}
        )
        assert client.tokens.issued == 1
        assert client.tokens.scopes == ("notify:send", "notify:templates")

    reader = platform.token(agency, scope="notify:read")
    stub = notify_pb2_grpc.NotifyServiceStub(platform.channel("notify"))
    sent = stub.ListNotifications(
        notify_pb2.ListNotificationsRequest(page_size=10), metadata=bearer(reader)
    )
    [notification] = sent.notifications
    assert notification.recipient == "ada@example.org"
    assert "246810" in notification.body


def test_wrong_credentials_are_refused_by_identitys_own_endpoint(
    platform_and_token_server: tuple[Platform, Any],
) -> None:
    platform, token_server = platform_and_token_server
    agency = platform.secret_agency(scopes=["notify:send", "notify:templates"])
    client = notify_client(
        platform.notify.grpc_target,
        agency.client_id,
        "not-the-secret",
        token_server.token_endpoint,
        token_server.token_response,
        SCOPES,
    )
    with client, pytest.raises(TokenError) as refused:
        NotifyMessenger(client.notify).template_id(Kind.VERIFY_EMAIL)
    assert refused.value.error == "invalid_client"
