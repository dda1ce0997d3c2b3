"""A bound on costly work running at once in one process (argon2id hashes: each
holds its memory cost while it runs), with a short, bounded wait for a turn.

Past the bound a caller waits at most ``wait`` seconds, and only ``queue``
callers wait at all; the rest are refused at once with ``Busy``, which pages
answer with 503 and ``Retry-After``. Nothing queues without bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from services.runtime.errors import Unavailable


class Busy(Unavailable):
    """Too much of this work is running; try again after ``retry_after`` seconds."""

    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"too many {what} at once; try again in {retry_after} s")
        self.retry_after = retry_after


class Gate:
    def __init__(
        self, what: str, slots: int, *, wait: float = 1.0, queue: int | None = None
    ) -> None:
        if slots < 1:
            raise ValueError("a gate needs at least one slot")
        self.what = what
        self.slots = slots
        self._wait = wait
        self._queue = 4 * slots if queue is None else queue
        self._free = slots
        self._waiting = 0
        self._changed = threading.Condition()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold one slot for the block; raises Busy when none frees up in time."""
        self._acquire()
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify()

    def _acquire(self) -> None:
        with self._changed:
            if self._free > 0:
                self._free -= 1
                return
            if self._waiting >= self._queue:
                raise self._busy()
            self._waiting += 1
            try:
                deadline = time.monotonic() + self._wait
                while self._free == 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self._busy()
                    self._changed.wait(left)
                self._free -= 1
            finally:
                self._waiting -= 1

    def _busy(self) -> Busy:
        return Busy(self.what, max(1, round(self._wait * 2)))
