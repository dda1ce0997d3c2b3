"""Text messages over HTTP providers, with weighted failover.

The provider API (what the local gateway and the tests' server implement)::

    POST <url>   Authorization: Bearer <key>
    {"to": "+44...", "body": "...", "sender": "GaaP", "reference": "<notification id>",
     "status_callback": "<notify public URL>/receipts/sms/<provider name>"}
    -> 200/201/202 {"id": "<provider message id>"}
    -> 400 {"error": "invalid_recipient"}  permanent failure
    -> 429, 5xx, network errors             retryable

Receipts come back to ``status_callback`` (see web/receipts.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from services.notify.domain.providers import (
    Accepted,
    ProviderError,
    RejectedError,
    RetryableError,
    SmsMessage,
    SmsProvider,
)
from services.notify.domain.routing import WeightedRouter
from services.notify.domain.statuses import PERMANENT_FAILURE, TECHNICAL_FAILURE
from services.runtime import egress_http


class HttpSmsProvider:
    def __init__(
        self,
        name: str,
        url: str,
        key: str,
        *,
        sender: str,
        receipts_url: str,
        client: httpx.AsyncClient,
        seconds: float = 10.0,
    ) -> None:
        """``client``: from ``egress_http.async_client`` (the egress guard);
        ``seconds``: one request's whole exchange."""
        self.name = name
        self.url = url
        self.key = key
        self._sender = sender
        self._receipts_url = receipts_url
        self._client = client
        self._seconds = seconds

    async def send_sms(self, *, message: SmsMessage) -> Accepted:
        body = {
            "to": message.to,
            "body": message.body,
            "sender": self._sender,
            "reference": message.notification_id,
            "status_callback": self._receipts_url,
        }
        try:
            reply = await egress_http.apost(
                self._client,
                self.url,
                json=body,
                headers={"authorization": f"Bearer {self.key}"},
                seconds=self._seconds,
            )
        except httpx.HTTPError as exc:
            raise RetryableError(f"{self.name}: {egress_http.safe_error(exc)}") from None
        if reply.status in (200, 201, 202):
            found = _json(reply).get("id")
            if not isinstance(found, str) or not found:
                raise RetryableError(f"{self.name}: accepted without an id")
            return Accepted(self.name, found, delivered=False)
        if reply.status in (408, 429) or reply.status >= 500:
            raise RetryableError(f"{self.name}: HTTP {reply.status}")
        error = _json(reply).get("error")
        status = PERMANENT_FAILURE if error == "invalid_recipient" else TECHNICAL_FAILURE
        raise RejectedError(f"{self.name}: HTTP {reply.status} {error}", status)


def _json(reply: egress_http.Reply) -> Mapping[str, Any]:
    if reply.truncated:
        return {}  # a provider's answer is a few bytes; this one is not
    try:
        parsed = json.loads(reply.body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


class FailoverSms:
    """Tries providers in the router's weighted order until one accepts."""

    name = "sms-failover"

    def __init__(self, providers: Mapping[str, SmsProvider], router: WeightedRouter) -> None:
        self.providers = dict(providers)
        self.router = router

    async def send_sms(self, *, message: SmsMessage) -> Accepted:
        last: ProviderError | None = None
        for name in self.router.order():
            try:
                accepted = await self.providers[name].send_sms(message=message)
            except RejectedError as exc:
                if exc.status == PERMANENT_FAILURE:
                    raise  # the number is bad: no provider will do better
                self.router.failed(name)
                last = exc
                continue
            except RetryableError as exc:
                self.router.failed(name)
                last = exc
                continue
            self.router.succeeded(name)
            return accepted
        assert last is not None
        if isinstance(last, RejectedError):
            raise last
        raise RetryableError(f"every SMS provider failed; last: {last}")
