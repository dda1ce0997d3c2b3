"""``Transactions`` over an in-memory unit of work, with the same promise as the
SQL one: a block that raises leaves the state as it was before it began."""

from __future__ import annotations

import copy
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

    @contextmanager
    def __call__(self) -> Iterator[S]:
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
        before = copy.deepcopy(vars(self.state))
        try:
            yield self.state
        finally:  # a read never commits: anything it wrote is dropped
            vars(self.state).clear()
            vars(self.state).update(before)
