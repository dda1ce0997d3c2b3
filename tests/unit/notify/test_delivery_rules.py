"""Weighted failover, the retry schedule and schedule limits."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain.notifications import RetrySchedule, due_time
from services.notify.domain.routing import FLOOR, WeightedRouter

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def firsts(router: WeightedRouter, n: int = 2000) -> Counter[str]:
    return Counter(router.order()[0] for _ in range(n))


def test_traffic_follows_the_weights_and_shifts_away_from_a_failing_provider() -> None:
    router = WeightedRouter({"a": 3, "b": 1}, rng=random.Random(7))
    before = firsts(router)
    assert before["a"] > before["b"] * 2
    for _ in range(6):
        router.failed("a")
    after = firsts(router)
    assert after["b"] > after["a"] * 5
    assert router.health["a"] == FLOOR
    for _ in range(6):
        router.succeeded("a")
    assert router.health["a"] == 1.0


def test_every_provider_is_in_the_order_once() -> None:
    assert sorted(WeightedRouter({"a": 1, "b": 1, "c": 5}).order()) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="positive weight"):
        WeightedRouter({"a": 0})


def test_retries_back_off_then_stop_after_the_period() -> None:
    schedule = RetrySchedule(period=timedelta(hours=4))
    assert schedule.next_attempt(1, NOW, NOW) == NOW + timedelta(seconds=10)
    assert schedule.next_attempt(2, NOW, NOW) == NOW + timedelta(seconds=30)
    late = NOW + timedelta(hours=3, minutes=45)
    assert schedule.next_attempt(20, NOW, late) is None  # 30 minutes more would pass 4 hours
    assert schedule.next_attempt(20, NOW, NOW + timedelta(hours=3)) == NOW + timedelta(
        hours=3, minutes=30
    )


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(days=7), True),
        (timedelta(days=7, seconds=1), False),
        (timedelta(seconds=-30), True),
        (timedelta(minutes=-2), False),
    ],
)
def test_schedule_limits(offset: timedelta, ok: bool) -> None:
    assert (due_time(NOW + offset, NOW, "scheduled_for") is None) == ok
