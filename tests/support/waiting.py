"""Waiting for a condition instead of sleeping for a guess."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 5.0, interval: float = 0.01, what: str = ""
) -> T:
    """``probe()``'s first truthy result, polled until ``timeout``; fails the test after it."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what or probe}")
        time.sleep(interval)
