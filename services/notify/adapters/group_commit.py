"""Group commit: concurrent callers' writes combined into one transaction.

Every send is one small transaction; with several gRPC threads sending at once,
each paying its own round trips and commit, the database round trips dominate
and every send for one agency queues on the same daily-counter row. Here the
first caller to arrive writes its own item at once; callers arriving while a
write is in progress queue up, and when the write ends the first of them writes
the whole queue as one batch (one transaction, a few statements). So a lone
caller waits for nothing, and under load each transaction carries as many sends
as arrived during the previous one. No thread is started: a caller writes at
most one batch (its own), then hands the turn to the next waiting caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")  # its result


class _Slot(Generic[I, R]):
    """One caller's item; ``done`` is held until its turn or its result comes.

    A bare lock, not an ``Event``: released once, by one thread, it wakes its
    one waiter without an Event's Python-level condition bookkeeping.
    """

    __slots__ = ("done", "error", "item", "lead", "result")

    def __init__(self, item: I) -> None:
        self.item = item
        self.done = threading.Lock()
        self.done.acquire()
        self.lead = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupWriter(Generic[I, R]):
    """``submit(item)`` returns ``write([..., item, ...])``'s result for that item.

    ``write`` returns one result per item, in order; a failure meant for one
    caller should be a result. If ``write`` raises, every caller in its batch
    gets the exception.
    """

    def __init__(self, write: Callable[[Sequence[I]], Sequence[R]], max_batch: int = 64) -> None:
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Slot[I, R]] = []
        self._busy = False

    def submit(self, item: I) -> R:
        slot: _Slot[I, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            slot.lead = not self._busy
            self._busy = True
        if not slot.lead:
            slot.done.acquire()  # until the writer releases it
        if slot.lead:  # our turn: write what has queued up (ourselves first)
            self._write_batch()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _write_batch(self) -> None:
        # Let callers that are a moment away (checking and rendering their send
        # in another thread) join this batch rather than wait for the next one.
        time.sleep(0)
        with self._lock:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        try:
            for slot, result in zip(batch, self._write([s.item for s in batch]), strict=True):
                slot.result = result
        except BaseException as exc:
            for slot in batch:
                slot.error = exc
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                self._busy = following is not None
            if following is not None:
                following.lead = True
                following.done.release()
            for slot in batch:
                if slot.lead:  # the caller writing this batch is not waiting
                    slot.lead = False
                else:
                    slot.done.release()
