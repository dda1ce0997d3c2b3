"""``Transactions`` over an in-memory unit of work, with the same promises as the
SQL one: a block that raises leaves the state as it was before it began, and
blocks run one at a time, whichever thread they run on.

The second promise matters to code that runs transactions on worker threads
(``asyncio.to_thread``), as notify's worker does: it claims the next batch while
the last one's outcomes are recorded. A database isolates the two; without the
lock here, one block copying the state for its rollback while another changes it
fails ("dictionary changed size during iteration"), or a rollback puts back a
copy that lacks the other block's committed writes."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

S = TypeVar("S")


class FakeTransactions(Generic[S]):
    """``state`` is the unit of work itself (an object whose attributes are the
    fake repositories); ``commits`` counts the blocks that ended normally."""

    def __init__(self, state: S) -> None:
        self.state = state
        self.commits = 0
        # One block at a time, as SQLite's write lock serialises transactions;
        # re-entrant, so a block that opens another on the same thread goes on.
        self._serial = threading.RLock()

    @contextmanager
    def __call__(self) -> Iterator[S]:
        with self._serial:
            before = copy.deepcopy(vars(self.state))
            try:
                yield self.state
            except BaseException:
                vars(self.state).clear()
                vars(self.state).update(before)
                raise
            self.commits += 1

    @contextmanager
    def read(self) -> Iterator[S]:
        with self._serial:
            before = copy.deepcopy(vars(self.state))
            try:
                yield self.state
            finally:  # a read never commits: anything it wrote is dropped
                vars(self.state).clear()
                vars(self.state).update(before)
