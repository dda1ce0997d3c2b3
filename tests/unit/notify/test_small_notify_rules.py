"""notify's smaller rules at their edges: SMS downgrading and units, simulated numbers,
provider health, page keys and provider refusals."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from services.notify.domain import paging, sms
from services.notify.domain.providers import RejectedError
from services.notify.domain.routing import FLOOR, WeightedRouter
from services.notify.domain.simulation import simulated_number
from services.notify.domain.statuses import PERMANENT_FAILURE, TECHNICAL_FAILURE


def test_a_character_that_decomposes_into_several_letters_keeps_them_all() -> None:
    assert sms.downgrade("ﬁ ǆ Ǆ") == "fi dz DZ"
    assert sms.measure("ǅ").text == "Dz"


def test_ucs2_counts_characters_and_whole_utf16_units() -> None:
    length = sms.measure("😀 ש")
    assert length == sms.SmsLength("😀 ש", "UCS-2", 3, 4, 1)
    assert type(length.units) is int
    assert type(sms.utf16_units("😀😀a")) is int
    assert sms.utf16_units("😀😀a") == 5


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("07700 900002", "+447700900002"),
        ("+44 7700 900003", "+447700900003"),
        ("44 7700 900000", "+447700900000"),
        ("(0)7700-900-111", "+447700900111"),
        ("+07700 900002", None),  # neither way a UK number is written
        ("07700 900002+", None),
        ("447700900004", None),  # not one of the simulated numbers
        ("", None),
    ],
)
def test_simulated_numbers_written_in_the_usual_ways(raw: str, e164: str | None) -> None:
    assert simulated_number(raw) == e164


def test_a_provider_needs_a_positive_weight() -> None:
    for weights in ({}, {"a": 1.0, "b": 0.0}, {"a": -1.0}):
        with pytest.raises(ValueError, match=r"^every provider needs a positive weight$"):
            WeightedRouter(weights)


def test_failures_halve_health_to_a_floor_and_successes_double_it_to_full() -> None:
    router = WeightedRouter({"a": 2.0, "b": 1.0}, random.Random(1))
    router.succeeded("a")
    assert router.health == {"a": 1.0, "b": 1.0}
    router.failed("a")
    router.failed("a")
    assert router.health["a"] == 0.25
    assert router.effective("a") == 0.5
    router.succeeded("a")
    assert router.health["a"] == 0.5
    for _ in range(10):
        router.failed("b")
    assert router.health["b"] == FLOOR == 1 / 64
    router.succeeded("b")
    assert router.health["b"] == 1 / 32


@pytest.mark.parametrize("item_id", ["ntf_0a1b", "odd|id", "a|b|c", ""])
def test_a_page_key_names_its_time_and_id_back(item_id: str) -> None:
    at = datetime(2025, 6, 1, 12, 30, 45, 123456, tzinfo=UTC)
    assert paging.after(paging.page_key(at, item_id)) == (at, item_id)


def test_a_refusal_keeps_its_reason_and_final_status() -> None:
    refused = RejectedError("recipient refused (550)", PERMANENT_FAILURE)
    assert (str(refused), refused.status) == ("recipient refused (550)", PERMANENT_FAILURE)
    assert RejectedError("SMTP 554").status == TECHNICAL_FAILURE
