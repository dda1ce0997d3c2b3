"""An agency's sending settings: its own or the defaults, and each channel's limit."""

from __future__ import annotations

from services.notify.domain.agency_settings import AgencySettings, Defaults, settings_from
from services.notify.domain.recipients import SmsRules

DEFAULTS = Defaults(sms_default_region="IE", email_daily_limit=100, sms_daily_limit=7)


def test_each_channel_has_its_own_daily_limit() -> None:
    assert DEFAULTS.daily_limit("email") == 100
    assert DEFAULTS.daily_limit("sms") == 7
    settings = AgencySettings("GB", False, email_daily_limit=30, sms_daily_limit=4)
    assert settings.daily_limit("email") == 30
    assert settings.daily_limit("sms") == 4


def test_an_agency_that_never_changed_its_settings_gets_the_defaults() -> None:
    assert settings_from(None, DEFAULTS) == AgencySettings("IE", False, 100, 7)
    assert settings_from(("US", True), DEFAULTS) == AgencySettings("US", True, 100, 7)
    assert settings_from(("US", True), DEFAULTS).sms_rules == SmsRules("US", international=True)
    assert Defaults() == Defaults("GB", 250_000, 250_000)
