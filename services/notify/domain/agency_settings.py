"""Each agency's sending settings.

Agencies live in identity, but these settings only matter to notify, so notify
keeps them (defaults from NotifySettings until an agency changes them) instead
of widening identity's agency record and calling identity on every send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.notify.domain.recipients import SmsRules

# What an agency stored: its default SMS region and whether it may send abroad.
Stored = tuple[str, bool]


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

    def daily_limit(self, channel: str) -> int:
        return self.email_daily_limit if channel == "email" else self.sms_daily_limit


def settings_from(stored: Stored | None, defaults: Defaults) -> AgencySettings:
    """An agency's settings from what it stored, or the defaults if it never
    changed them."""
    region, international = stored if stored is not None else (defaults.sms_default_region, False)
    return AgencySettings(
        region, international, defaults.email_daily_limit, defaults.sms_daily_limit
    )


@dataclass(frozen=True)
class Usage:
    """What an agency queued on one UTC day, per channel, against its daily limits
    (the counts the limit itself is checked on)."""

    day: date
    email_sent: int
    sms_sent: int
    settings: AgencySettings
