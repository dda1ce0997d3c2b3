"""``Transactions`` over SQLAlchemy sessions: each unit of work is one session,
and the service's ``bind`` builds its repositories on that session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

U = TypeVar("U")


class SqlTransactions(Generic[U]):
    def __init__(self, sessions: sessionmaker[Session], bind: Callable[[Session], U]) -> None:
        self.sessions = sessions
        self._bind = bind

    @contextmanager
    def __call__(self) -> Iterator[U]:
        with self.sessions.begin() as session:
            yield self._bind(session)

    @contextmanager
    def read(self) -> Iterator[U]:
        with self.sessions() as session:
            yield self._bind(session)
