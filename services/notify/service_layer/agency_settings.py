"""Each agency's sending settings, kept in notify's own table.

Agencies live in identity, but these settings only matter to notify, so notify
keeps them (defaults from NotifySettings until an agency changes them) instead
of widening identity's agency record and calling identity on every send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.notify.domain.recipients import SmsRules, valid_region
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.idempotency import Keyed, Replay, run_once
from services.runtime.idempotency_sql import session_work

t = tables.agency_settings


@dataclass(frozen=True)
class AgencySettings:
    sms_default_region: str
    international_sms: bool
    email_daily_limit: int
    sms_daily_limit: int

    @property
    def sms_rules(self) -> SmsRules:
        return SmsRules(self.sms_default_region, self.international_sms)

    def daily_limit(self, channel: str) -> int:
        return self.email_daily_limit if channel == "email" else self.sms_daily_limit


@dataclass(frozen=True)
class Defaults:
    sms_default_region: str = "GB"
    email_daily_limit: int = 250_000
    sms_daily_limit: int = 250_000


def read(session: Session, tenant: str, defaults: Defaults) -> AgencySettings:
    row = session.execute(sa.select(t).where(t.c.tenant == tenant)).first()
    stored = None if row is None else (row.sms_default_region, bool(row.international_sms))
    return settings_from(stored, defaults)


def settings_from(stored: tuple[str, bool] | None, defaults: Defaults) -> AgencySettings:
    """An agency's settings from its stored SMS region and international
    permission, or the defaults if it never changed them."""
    region, international = stored if stored is not None else (defaults.sms_default_region, False)
    return AgencySettings(
        region, international, defaults.email_daily_limit, defaults.sms_daily_limit
    )


class AgencySettingsService:
    def __init__(self, sessions: sessionmaker[Session], defaults: Defaults) -> None:
        self._sessions = sessions
        self._keyed_work = session_work(sessions, tables.idempotency_keys)
        self.defaults = defaults

    def get(self, tenant: str) -> AgencySettings:
        with transaction(self._sessions) as session:
            return read(session, tenant, self.defaults)

    def update(
        self,
        tenant: str,
        region: str,
        international: bool,
        call: Keyed,
        encode: Callable[[AgencySettings], bytes],
    ) -> AgencySettings | Replay:
        region = region.upper()
        if not valid_region(region):
            raise InvalidArgument.from_violations(
                [FieldViolation("sms_default_region", "an ISO 3166 alpha-2 region, e.g. GB")]
            )

        def work(session: Session) -> AgencySettings:
            session.execute(t.delete().where(t.c.tenant == tenant))
            session.execute(
                t.insert().values(
                    tenant=tenant,
                    sms_default_region=region,
                    international_sms=international,
                    updated_at=utcnow(),
                )
            )
            return read(session, tenant, self.defaults)

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)
