"""Choosing how identity sends citizens' messages, from its settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gaap_client import GaapClient
from services.identity.adapters.notify_messenger import NotifyMessenger, notify_client
from services.identity.adapters.postbox import Postbox
from services.identity.adapters.smtp_messenger import SmtpMessenger
from services.identity.settings import IdentitySettings
from services.runtime.errors import StartupError

NOTIFY_SCOPES = "notify:send notify:templates"


class TokenEndpoint(Protocol):
    """identity's own token endpoint, which its notify client asks in-process
    (bootstrap passes the token server)."""

    @property
    def token_endpoint(self) -> str: ...

    def token_response(
        self, form: dict[str, str], headers: Mapping[str, str]
    ) -> tuple[int, Any, Any]: ...


def postbox(settings: IdentitySettings, tokens: TokenEndpoint) -> tuple[Postbox, GaapClient | None]:
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
            tokens.token_endpoint,
            tokens.token_response,
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
