"""An agency's sending settings and its status callback, on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain.agency_settings import AgencySettings
from services.notify.domain.callbacks import Callback
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound
from services.runtime.idempotency import Replay, replayed_id
from tests.unit.notify.conftest import AGENCY, DAILY_LIMIT, OTHER, START, Notify, call, encoded

TENANT = AGENCY.client_id


def test_an_agency_that_changed_nothing_has_the_defaults(notify: Notify) -> None:
    assert notify.settings.get(TENANT) == AgencySettings("GB", False, DAILY_LIMIT, DAILY_LIMIT)


def test_settings_are_updated_for_that_agency_only(notify: Notify) -> None:
    keyed = call()
    updated = notify.settings.update(TENANT, "fr", True, keyed, encoded)
    assert updated == AgencySettings("FR", True, DAILY_LIMIT, DAILY_LIMIT)
    assert notify.settings.get(TENANT) == updated
    assert notify.settings.get(OTHER.client_id).sms_default_region == "GB"
    assert notify.settings.update(TENANT, "fr", True, keyed, encoded) == Replay(encoded(updated))
    with pytest.raises(AlreadyExists):
        notify.settings.update(TENANT, "de", True, call(key=keyed.key, fingerprint="x"), encoded)
    assert notify.settings.get(TENANT).sms_default_region == "FR"


@pytest.mark.parametrize("region", ["", "GBR", "ZZ", "1a"])
def test_an_unknown_region_is_refused(notify: Notify, region: str) -> None:
    with pytest.raises(InvalidArgument, match="sms_default_region"):
        notify.settings.update(TENANT, region, False, call(), encoded)
    assert notify.state.agency_settings.stored == {}


def test_a_callback_is_registered_with_a_secret_shown_once(notify: Notify) -> None:
    created = notify.callbacks.set(TENANT, "https://agency.example/cb", call())
    assert created == Callback("https://agency.example/cb", START, "whsec_fixed")
    assert notify.callbacks.get(TENANT) == Callback("https://agency.example/cb", START)
    with pytest.raises(NotFound):
        notify.callbacks.get(OTHER.client_id)


def test_a_new_callback_replaces_the_old_one(notify: Notify) -> None:
    notify.callbacks.set(TENANT, "https://agency.example/old", call())
    notify.clock.advance(timedelta(minutes=1))
    notify.callbacks.set(TENANT, "https://agency.example/new", call())
    assert notify.callbacks.get(TENANT).url == "https://agency.example/new"
    assert len(notify.state.callbacks.registered) == 1


def test_a_callback_to_a_private_address_is_refused(notify: Notify) -> None:
    with pytest.raises(InvalidArgument, match="url"):
        notify.callbacks.set(TENANT, "https://127.0.0.1/cb", call())
    assert notify.state.callbacks.registered == {}


def test_setting_again_with_the_same_key_replays_without_a_new_secret(notify: Notify) -> None:
    keyed = call()
    first = notify.callbacks.set(TENANT, "https://agency.example/cb", keyed)
    assert notify.callbacks.set(TENANT, "https://agency.example/cb", keyed) == first
    assert first.signing_secret == "whsec_fixed"
    assert len(notify.state.callbacks.registered) == 1


def test_the_key_keeps_the_callbacks_id_and_never_its_secret(notify: Notify) -> None:
    notify.callbacks.set(TENANT, "https://agency.example/cb", call())
    ((_, stored),) = notify.state.idempotency.rows.values()
    assert stored is not None
    assert b"whsec_fixed" not in stored
    (registered,) = notify.state.callbacks.registered.values()
    assert replayed_id(stored) == registered.id


def test_a_replay_after_the_callback_was_replaced_finds_nothing(notify: Notify) -> None:
    keyed = call()
    notify.callbacks.set(TENANT, "https://agency.example/old", keyed)
    notify.callbacks.set(TENANT, "https://agency.example/new", call())
    with pytest.raises(NotFound, match="replaced or deleted"):
        notify.callbacks.set(TENANT, "https://agency.example/old", keyed)
    assert notify.callbacks.get(TENANT).url == "https://agency.example/new"


def test_a_deleted_callback_is_gone(notify: Notify) -> None:
    notify.callbacks.set(TENANT, "https://agency.example/cb", call())
    assert notify.callbacks.delete(TENANT, call(), encoded) is True
    with pytest.raises(NotFound):
        notify.callbacks.get(TENANT)
    assert notify.callbacks.delete(TENANT, call(), encoded) is True  # nothing left: still fine
