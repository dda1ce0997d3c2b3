"""What the demo app's use cases keep, as ports: its applications, the browsers'
server-side sessions, the webhook events already handled, and values it keeps
between starts (template ids, the webhook subscription). The SQL implementation
is ``adapters/unit_of_work.py``; tests use in-memory fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from services.demo_app.domain.applications import Application
from services.runtime.unit_of_work import Transactions


class ApplicationStore(Protocol):
    def add(self, app: Application) -> None: ...

    def save(self, app: Application) -> None: ...

    def get(self, application_id: str, *, for_update: bool = False) -> Application | None: ...

    def of_subject(self, subject: str, limit: int = 20) -> list[Application]: ...


class BrowserSessionStore(Protocol):
    """Session data keyed by the browser's cookie (stored under a hash of it)."""

    def load(self, cookie: str) -> dict[str, Any]: ...

    def store(
        self,
        cookie: str,
        *,
        pending: dict[str, Any] | None,
        subject: str = "",
        claims: dict[str, Any] | None = None,
        id_token: str = "",
    ) -> None: ...

    def delete(self, cookie: str) -> None: ...


class WebhookEventStore(Protocol):
    def seen(self, event_id: str) -> bool: ...

    def record(self, event_id: str, at: datetime) -> None: ...


class KeptValueStore(Protocol):
    def get(self, name: str) -> str | None: ...

    def put(self, name: str, value: str) -> None: ...


class DemoWork(Protocol):
    """One transaction's view of the demo app's data."""

    @property
    def applications(self) -> ApplicationStore: ...

    @property
    def browser_sessions(self) -> BrowserSessionStore: ...

    @property
    def webhook_events(self) -> WebhookEventStore: ...

    @property
    def kept(self) -> KeptValueStore: ...


DemoTransactions = Transactions[DemoWork]
