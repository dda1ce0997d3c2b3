"""Workers as real processes: killed mid-send, and two at once on one PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.notify.adapters import tables
from services.notify.bootstrap import open_notify
from services.notify.domain.templates import Content
from services.notify.service_layer.sending import SendRequest
from services.notify.settings import NotifySettings
from services.runtime.config import PlatformSettings
from services.runtime.context import Principal
from services.runtime.db import transaction
from services.runtime.heartbeat import heartbeat_path, is_fresh
from services.runtime.idempotency import Keyed
from tests.integration.notify.support import (
    RecordingHandler,
    SmtpServer,
    run_worker,
    wait_for,
    worker_settings,
)
from tests.support import databases
from tests.support.databases import for_service
from tests.support.platform import Platform

LIVE = Principal("agency-w", "live", frozenset({"notify:send"}), "tok", 0)


class HangOnce(RecordingHandler):
    """Never answers the first message to a ``hang-`` address (a provider that has
    not accepted it when the worker dies); accepts everything else."""

    def __init__(self) -> None:
        super().__init__()
        self.hung = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if any(r.startswith("hang-") for r in envelope.rcpt_tos) and self.hung == 0:
            self.hung += 1
            await asyncio.sleep(3600)
        return await super().handle_DATA(server, session, envelope)


def worker_process(settings: NotifySettings, tmp: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAAP_", "NOTIFY_", "REDIS_"))}
    env.update(
        GAAP_VAR_DIR=str(tmp),
        NOTIFY_DATABASE_URL=settings.database_url,
        NOTIFY_SMTP_PORT=str(settings.smtp_port),
        NOTIFY_SMS_PROVIDERS=settings.sms_providers,
        NOTIFY_WORKER_POLL_SECONDS="0.05",
        NOTIFY_WORKER_LEASE_SECONDS="300",
        NOTIFY_WORKER_BATCH="20",
    )
    return subprocess.Popen([sys.executable, "-m", "services.notify.worker"], env=env)


def send_many(
    settings: NotifySettings, platform: PlatformSettings, recipients: list[str]
) -> list[str]:
    notify = open_notify(platform, settings)
    try:
        template = notify.templates.create(
            LIVE.client_id,
            "email",
            "T",
            [Content("en", "Hello", "Body ((n))")],
            Keyed(LIVE.client_id, uuid.uuid4().hex, "fp"),
            lambda _: b"",
        )
        ids = []
        for to in recipients:
            sent = notify.sending.send(
                LIVE,
                SendRequest("email", template.id, to, {"n": to}),  # type: ignore[union-attr]
                Keyed(LIVE.client_id, uuid.uuid4().hex, "fp"),
                lambda _: b"",
            )
            ids.append(sent.id)  # type: ignore[union-attr]
        return ids
    finally:
        notify.database.close()


def statuses(
    settings: NotifySettings, platform: PlatformSettings, ids: list[str]
) -> dict[str, tuple[str, str | None]]:
    notify = open_notify(platform, settings)
    n = tables.notifications
    try:
        with transaction(notify.database.sessions) as session:
            rows = session.execute(
                sa.select(n.c.id, n.c.status, n.c.provider_message_id).where(n.c.id.in_(ids))
            )
            return {r.id: (r.status, r.provider_message_id) for r in rows}
    finally:
        notify.database.close()


def test_a_worker_killed_mid_send_loses_nothing_and_resends_only_what_was_not_accepted(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    smtp = SmtpServer()
    smtp.handler = HangOnce()
    smtp._controller.handler = smtp.handler
    smtp.start()
    try:
        settings = worker_settings(
            database_url, smtp.port, "http://127.0.0.1:9", platform.notify.http_url
        )
        ok, hang = (
            f"ok-{uuid.uuid4().hex[:6]}@example.com",
            f"hang-{uuid.uuid4().hex[:6]}@example.com",
        )
        ok_id, hang_id = send_many(settings, platform.settings, [ok, hang])
        worker = worker_process(settings, tmp_path)
        try:
            assert wait_for(
                lambda: (
                    smtp.handler.hung == 1  # type: ignore[attr-defined]
                    and statuses(settings, platform.settings, [ok_id])[ok_id][0] == "delivered"
                ),
                timeout=30,
            )
            # One send hanging is not the worker hanging: its loop still turns.
            assert is_fresh(heartbeat_path(tmp_path, "notify-worker"), max_age=10)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        left = statuses(settings, platform.settings, [ok_id, hang_id])
        assert left[hang_id] == ("sending", None)  # claimed, never accepted: not lost
        # Once the lease has run out, another worker sends it; the accepted one stays sent.
        run_worker(platform, settings, clock=lambda: datetime.now(UTC) + timedelta(minutes=10))
        final = statuses(settings, platform.settings, [ok_id, hang_id])
        assert final[hang_id][0] == final[ok_id][0] == "delivered"
        assert len(smtp.handler.to(ok)) == 1
        assert len(smtp.handler.to(hang)) == 1
    finally:
        smtp.stop()


@pytest.fixture
def postgres_notify(tmp_path: Path) -> Iterator[tuple[str, PlatformSettings]]:
    admin = databases.require_postgres()
    with databases.fresh_postgres_database(admin) as url:
        yield for_service(url, "notify"), PlatformSettings(var_dir=tmp_path)


def test_two_workers_on_one_postgresql_never_send_the_same_notification_twice(
    postgres_notify: tuple[str, PlatformSettings], tmp_path: Path
) -> None:
    url, platform = postgres_notify
    smtp = SmtpServer().start()
    try:
        settings = NotifySettings(
            database_url=url,
            smtp_port=smtp.port,
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
        )
        recipients = [f"r{i}@example.com" for i in range(300)]
        ids = send_many(settings, platform, recipients)
        workers = [worker_process(settings, tmp_path), worker_process(settings, tmp_path)]
        try:
            assert wait_for(
                lambda: all(
                    s == "delivered" for s, _ in statuses(settings, platform, ids).values()
                ),
                timeout=60,
            )
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            for w in workers:
                assert w.wait(20) == 0
        seen = Counter(m["X-GaaP-Notification-Id"] for m in smtp.handler.messages)
        assert set(seen) == set(ids)
        assert max(seen.values()) == 1
    finally:
        smtp.stop()


__all__ = ["EmailMessage"]
