"""Back-channel logout tokens owed to agencies, on the shared webhook outbox
(``runtime/webhooks.py``): written in the transaction that ends the sessions
(``SqlLogoutOutbox``), then delivered with retries (``logout_deliveries``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.repositories import SqlAgencyRepository
from services.identity.adapters.tables import backchannel_attempts, backchannel_deliveries
from services.identity.domain.agencies import Agency
from services.runtime import webhooks
from services.runtime.egress import PUBLIC_ONLY, Egress

EVENT_TYPE = "backchannel-logout"
# Soon at first (an agency restarting), then spread over a day; a 4xx other
# than 408/429 is the agency refusing the token (the spec's 400), never retried.
RETRIES = webhooks.RetryPolicy(
    [
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(hours=24),
    ],
    retry_client_errors=False,
)
# One attempt's whole exchange, connect to last byte of the answer.
SEND_SECONDS = 5.0

# A freshly signed logout token for (agency, subject, sid, jti): each attempt
# signs its own, since a two-minute lifetime cannot survive an hour's retry.
LogoutToken = Callable[[Agency, str, str, str], str]


class SqlLogoutOutbox:
    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self, *, agency: Agency, event_id: str, payload: dict[str, Any], at: datetime
    ) -> str:
        assert agency.backchannel_logout_uri
        return webhooks.Outbox.enqueue(
            self.session,
            backchannel_deliveries,
            tenant=agency.client_id,
            subscription_id=agency.client_id,
            url=agency.backchannel_logout_uri,
            event_id=event_id,
            event_type=EVENT_TYPE,
            payload=payload,
            now=at,
        )


def logout_deliveries(
    sessions: sessionmaker[Session],
    token: LogoutToken,
    *,
    egress: Egress = PUBLIC_ONLY,
    sender: webhooks.Sender | None = None,
) -> webhooks.Outbox:
    """The outbox that sends what is owed. ``egress``: where a logout token may
    be sent (``sender`` replaces the HTTP sender altogether, for tests)."""

    def prepare(
        session: Session, delivery: webhooks.Delivery
    ) -> Callable[[], webhooks.Request] | webhooks.Gone:
        agency = SqlAgencyRepository(session).get(delivery.tenant)
        if agency is None or agency.disabled or not agency.backchannel_logout_uri:
            return webhooks.Gone("agency disabled or back-channel logout removed")
        owed = json.loads(delivery.body)

        def request() -> webhooks.Request:
            signed = token(agency, owed["sub"], owed["sid"], delivery.event_id)
            body = urlencode({"logout_token": signed}).encode()
            return body, {
                "content-type": "application/x-www-form-urlencoded",
                "user-agent": "GaaP-Identity-Logout/1",
            }

        return request

    return webhooks.Outbox(
        sessions,
        backchannel_deliveries,
        backchannel_attempts,
        prepare=prepare,
        policy=RETRIES,
        sender=sender or webhooks.http_sender(egress, seconds=SEND_SECONDS),
    )
