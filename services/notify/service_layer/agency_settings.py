"""Reading and changing an agency's sending settings (GetAgencySettings,
UpdateAgencySettings) and today's usage against its daily limits (GetUsage);
the rules are in ``domain/agency_settings.py``."""

from __future__ import annotations

from collections.abc import Callable

from services.notify.domain.agency_settings import AgencySettings, Defaults, Usage, settings_from
from services.notify.domain.recipients import valid_region
from services.notify.service_layer.unit_of_work import NotifyTransactions, NotifyWork
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.idempotency import Keyed, Replay, run_once


class AgencySettingsService:
    def __init__(self, uow: NotifyTransactions, defaults: Defaults, clock: Clock = utcnow) -> None:
        self._uow = uow
        self.defaults = defaults
        self._clock = clock

    def get(self, tenant: str) -> AgencySettings:
        with self._uow.read() as uow:
            return settings_from(uow.agency_settings.get(tenant), self.defaults)

    def usage(self, tenant: str) -> Usage:
        """Today's (UTC) sends per channel against the agency's daily limits."""
        today = self._clock().date()
        with self._uow.read() as uow:
            return Usage(
                today,
                uow.daily_counts.used(tenant, "email", today),
                uow.daily_counts.used(tenant, "sms", today),
                settings_from(uow.agency_settings.get(tenant), self.defaults),
            )

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

        def work(uow: NotifyWork) -> AgencySettings:
            uow.agency_settings.put(tenant, (region, international), self._clock())
            return settings_from(uow.agency_settings.get(tenant), self.defaults)

        return run_once(self._uow, call, work, encode)
