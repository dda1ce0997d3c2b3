"""Today's usage against the daily limits (GetUsage), on fakes: the counts the
limit is checked on, per agency and channel, starting again each UTC day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain.agency_settings import AgencySettings, Usage
from services.notify.service_layer.sending import SendRequest
from services.runtime.errors import ResourceExhausted
from tests.unit.notify.conftest import AGENCY, DAILY_LIMIT, OTHER, START, Notify, call, encoded

TENANT = AGENCY.client_id
SETTINGS = AgencySettings("GB", False, DAILY_LIMIT, DAILY_LIMIT)


def send_email(notify: Notify, template_id: str) -> None:
    request = SendRequest("email", template_id, "ada@example.com", {"name": "Ada"})
    notify.sending.send(AGENCY, request, call(), encoded)


def test_an_agency_that_sent_nothing_has_used_nothing(notify: Notify) -> None:
    assert notify.settings.usage(TENANT) == Usage(START.date(), 0, 0, SETTINGS)


def test_usage_counts_todays_sends_of_that_agency_and_channel(notify: Notify) -> None:
    template = notify.template()
    for _ in range(3):
        send_email(notify, template.id)
    assert notify.settings.usage(TENANT) == Usage(START.date(), 3, 0, SETTINGS)
    assert notify.settings.usage(OTHER.client_id).email_sent == 0


def test_a_full_day_shows_the_limit_reached_and_the_next_day_starts_again(
    notify: Notify,
) -> None:
    template = notify.template()
    for _ in range(DAILY_LIMIT):
        send_email(notify, template.id)
    with pytest.raises(ResourceExhausted):
        send_email(notify, template.id)
    assert notify.settings.usage(TENANT).email_sent == DAILY_LIMIT
    notify.clock.advance(timedelta(days=1))
    assert notify.settings.usage(TENANT) == Usage(START.date() + timedelta(days=1), 0, 0, SETTINGS)
