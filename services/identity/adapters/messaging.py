"""Choosing how identity sends citizens' messages, from its settings."""

from __future__ import annotations

import base64
from typing import Any

import grpc
from starlette.datastructures import Headers

from services.identity.adapters.notify_messenger import ClientCredentialsToken, NotifyMessenger
from services.identity.adapters.smtp_messenger import SmtpMessenger
from services.identity.service_layer.postbox import Postbox
from services.identity.settings import IdentitySettings
from services.identity.web.oauth_server import TokenServer
from services.runtime.errors import StartupError

NOTIFY_SCOPES = "notify:send notify:templates"


def postbox(
    settings: IdentitySettings, token_server: TokenServer
) -> tuple[Postbox, grpc.Channel | None]:
    """The postbox, and the gRPC channel to close at shutdown (notify only)."""
    if settings.messaging == "notify":
        if not settings.notify_client_id or not settings.notify_client_secret:
            raise StartupError(
                "IDENTITY_MESSAGING=notify needs IDENTITY_NOTIFY_CLIENT_ID and "
                "IDENTITY_NOTIFY_CLIENT_SECRET (an agency with notify:send and notify:templates)"
            )
        basic = base64.b64encode(
            f"{settings.notify_client_id}:{settings.notify_client_secret}".encode()
        ).decode()
        headers = Headers({"authorization": f"Basic {basic}"})

        def grant() -> tuple[int, Any, Any]:
            # identity is its own authorization server: the token endpoint's code
            # path, without a round trip over HTTP to itself.
            form = {"grant_type": "client_credentials", "scope": NOTIFY_SCOPES}
            status, body, extra = token_server.token_response(form, headers)
            return status, body, extra

        channel = grpc.insecure_channel(settings.notify_target)
        messenger = NotifyMessenger(channel, ClientCredentialsToken(grant))
        return Postbox(messenger, can_send_sms=True), channel
    smtp = SmtpMessenger(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )
    return Postbox(smtp, can_send_sms=False), None
