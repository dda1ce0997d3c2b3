"""SQL for the demo app: applications, sessions, webhook events, kept values."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.demo_app.adapters.tables import applications, kept_values, sessions, webhook_events
from services.demo_app.domain.applications import Application, ApplicationForm, State
from services.runtime.db_types import utcnow


def _row_to_application(row: Any) -> Application:
    return Application(
        id=row.id,
        subject=row.subject,
        reference=row.reference,
        form=ApplicationForm(row.full_name, row.email, row.phone, row.vehicle, row.postcode),
        language=row.language,
        amount=row.amount,
        currency=row.currency,
        state=State(row.state),
        created_at=row.created_at,
        signed_in_at=row.signed_in_at,
        payment_id=row.payment_id,
        next_url=row.next_url,
        email_notification_id=row.email_notification_id,
        sms_notification_id=row.sms_notification_id,
    )


class Applications:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, app: Application) -> None:
        self._session.execute(applications.insert().values(**self._values(app)))

    def save(self, app: Application) -> None:
        values = self._values(app)
        del values["created_at"]
        self._session.execute(
            applications.update().where(applications.c.id == app.id).values(**values)
        )

    def get(self, application_id: str, *, for_update: bool = False) -> Application | None:
        query = sa.select(applications).where(applications.c.id == application_id)
        if for_update:
            query = query.with_for_update()
        row = self._session.execute(query).first()
        return _row_to_application(row) if row else None

    def of_subject(self, subject: str, limit: int = 20) -> list[Application]:
        rows = self._session.execute(
            sa.select(applications)
            .where(applications.c.subject == subject)
            .order_by(applications.c.created_at.desc())
            .limit(limit)
        )
        return [_row_to_application(r) for r in rows]

    @staticmethod
    def _values(app: Application) -> dict[str, Any]:
        return {
            "id": app.id,
            "subject": app.subject,
            "reference": app.reference,
            "full_name": app.form.full_name,
            "email": app.form.email,
            "phone": app.form.phone,
            "vehicle": app.form.vehicle,
            "postcode": app.form.postcode,
            "language": app.language,
            "amount": app.amount,
            "currency": app.currency,
            "state": app.state.value,
            "payment_id": app.payment_id,
            "next_url": app.next_url,
            "email_notification_id": app.email_notification_id,
            "sms_notification_id": app.sms_notification_id,
            "signed_in_at": app.signed_in_at,
            "created_at": app.created_at,
            "updated_at": utcnow(),
        }


def session_key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class BrowserSessions:
    """Server-side session data keyed by the hash of the cookie's random value."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def load(self, cookie: str) -> dict[str, Any]:
        row = self._session.execute(
            sa.select(sessions).where(sessions.c.id == session_key(cookie))
        ).first()
        if row is None:
            return {}
        return {
            "pending": json.loads(row.pending) if row.pending else None,
            "subject": row.subject,
            "claims": json.loads(row.claims) if row.claims else {},
            "id_token": row.id_token,
        }

    def store(
        self,
        cookie: str,
        *,
        pending: dict[str, Any] | None,
        subject: str = "",
        claims: dict[str, Any] | None = None,
        id_token: str = "",
    ) -> None:
        key = session_key(cookie)
        now = utcnow()
        values = {
            "pending": json.dumps(pending) if pending else "",
            "subject": subject,
            "claims": json.dumps(claims or {}),
            "id_token": id_token,
            "updated_at": now,
        }
        updated = self._session.execute(
            sessions.update().where(sessions.c.id == key).values(**values)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            self._session.execute(sessions.insert().values(id=key, created_at=now, **values))

    def delete(self, cookie: str) -> None:
        self._session.execute(sessions.delete().where(sessions.c.id == session_key(cookie)))


class WebhookEvents:
    def __init__(self, session: Session) -> None:
        self._session = session

    def seen(self, event_id: str) -> bool:
        found = self._session.execute(
            sa.select(webhook_events.c.event_id).where(webhook_events.c.event_id == event_id)
        ).first()
        return found is not None

    def record(self, event_id: str, at: datetime) -> None:
        if not self.seen(event_id):
            self._session.execute(webhook_events.insert().values(event_id=event_id, received_at=at))


class KeptValues:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, name: str) -> str | None:
        row = self._session.execute(
            sa.select(kept_values.c.value).where(kept_values.c.name == name)
        ).first()
        return str(row.value) if row else None

    def put(self, name: str, value: str) -> None:
        updated = self._session.execute(
            kept_values.update().where(kept_values.c.name == name).values(value=value)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            self._session.execute(kept_values.insert().values(name=name, value=value))
