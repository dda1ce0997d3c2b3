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
    ) -> None:
        self.name = name
        self.url = url
        self.key = key
        self._sender = sender
        self._receipts_url = receipts_url
        self._client = client

    async def send_sms(self, *, message: SmsMessage) -> Accepted:
        body = {
            "to": message.to,
            "body": message.body,
            "sender": self._sender,
            "reference": message.notification_id,
            "status_callback": self._receipts_url,
        }
        try:
            response = await self._client.post(
                self.url, json=body, headers={"authorization": f"Bearer {self.key}"}
            )
        except httpx.HTTPError as exc:
            raise RetryableError(f"{self.name}: {type(exc).__name__}") from None
        if response.status_code in (200, 201, 202):
            found = _json(response).get("id")
            if not isinstance(found, str) or not found:
                raise RetryableError(f"{self.name}: accepted without an id")
            return Accepted(self.name, found, delivered=False)
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise RetryableError(f"{self.name}: HTTP {response.status_code}")
        error = _json(response).get("error")
        status = PERMANENT_FAILURE if error == "invalid_recipient" else TECHNICAL_FAILURE
        raise RejectedError(f"{self.name}: HTTP {response.status_code} {error}", status)


def _json(response: httpx.Response) -> Mapping[str, Any]:
    try:
        parsed = response.json()
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
