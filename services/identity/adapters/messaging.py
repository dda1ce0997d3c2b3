"""Choosing how identity sends citizens' messages, from its settings."""

from __future__ import annotations

from gaap_client import GaapClient
from services.identity.adapters.notify_messenger import NotifyMessenger, notify_client
from services.identity.adapters.smtp_messenger import SmtpMessenger
from services.identity.service_layer.postbox import Postbox
from services.identity.settings import IdentitySettings
from services.identity.web.oauth_server import TokenServer
from services.runtime.errors import StartupError

NOTIFY_SCOPES = "notify:send notify:templates"


def postbox(
    settings: IdentitySettings, token_server: TokenServer
) -> tuple[Postbox, GaapClient | None]:
    """The postbox, and the notify client to close at shutdown (notify only)."""
    if settings.messaging == "notify":
        if not settings.notify_client_id or not settings.notify_client_secret:
            raise StartupError(
                "IDENTITY_MESSAGING=notify needs IDENTITY_NOTIFY_CLIENT_ID and "
                "IDENTITY_NOTIFY_CLIENT_SECRET (an agency with notify:send and notify:templates)"
            )
        client = notify_client(
            settings.notify_target,
            settings.notify_client_id,
            settings.notify_client_secret,
            token_server.token_endpoint,
            token_server.token_response,
            NOTIFY_SCOPES,
        )
        return Postbox(NotifyMessenger(client.notify), can_send_sms=True), client
    smtp = SmtpMessenger(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )
    return Postbox(smtp, can_send_sms=False), None
