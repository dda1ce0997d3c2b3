"""In-memory fakes of the demo app's ports (services/demo_app/service_layer/unit_of_work.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.demo_app.domain.applications import Application
from tests.fakes.transactions import FakeTransactions


@dataclass
class MemoryApplications:
    rows: dict[str, Application] = field(default_factory=dict)

    def add(self, app: Application) -> None:
        assert app.id not in self.rows, "the SQL table's primary key refuses a second row"
        self.rows[app.id] = app

    def save(self, app: Application) -> None:
        if app.id in self.rows:  # an UPDATE of a missing row changes nothing
            self.rows[app.id] = app

    def get(self, application_id: str, *, for_update: bool = False) -> Application | None:
        return self.rows.get(application_id)

    def of_subject(self, subject: str, limit: int = 20) -> list[Application]:
        mine = [a for a in self.rows.values() if a.subject == subject]
        return sorted(mine, key=lambda a: a.created_at, reverse=True)[:limit]


@dataclass
class MemoryBrowserSessions:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def load(self, cookie: str) -> dict[str, Any]:
        return dict(self.rows.get(cookie, {}))

    def store(
        self,
        cookie: str,
        *,
        pending: dict[str, Any] | None,
        subject: str = "",
        claims: dict[str, Any] | None = None,
        id_token: str = "",
    ) -> None:
        self.rows[cookie] = {
            "pending": pending or None,
            "subject": subject,
            "claims": claims or {},
            "id_token": id_token,
        }

    def delete(self, cookie: str) -> None:
        self.rows.pop(cookie, None)


@dataclass
class MemoryWebhookEvents:
    rows: dict[str, datetime] = field(default_factory=dict)

    def seen(self, event_id: str) -> bool:
        return event_id in self.rows

    def record(self, event_id: str, at: datetime) -> None:
        self.rows.setdefault(event_id, at)


@dataclass
class MemoryKeptValues:
    rows: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.rows.get(name)

    def put(self, name: str, value: str) -> None:
        self.rows[name] = value


@dataclass
class MemoryDemoWork:
    applications: MemoryApplications = field(default_factory=MemoryApplications)
    browser_sessions: MemoryBrowserSessions = field(default_factory=MemoryBrowserSessions)
    webhook_events: MemoryWebhookEvents = field(default_factory=MemoryWebhookEvents)
    kept: MemoryKeptValues = field(default_factory=MemoryKeptValues)


def demo_transactions() -> FakeTransactions[MemoryDemoWork]:
    return FakeTransactions(MemoryDemoWork())
