"""The unit-of-work seam every service's use cases are written against.

A use case asks its service's ``Transactions`` for a unit of work and speaks
only to the repositories on it (``uow.payments``, ``uow.idempotency``, ...),
which are Protocols the service declares next to its use cases:

    with self._uow() as uow:          # one transaction: commits on success,
        payment = uow.payments.get(tenant, payment_id, lock=True)   # rolls back
        ...                                                         # on error
    with self._uow.read() as uow:     # reads only: nothing is committed
        return uow.payments.get(tenant, payment_id)

Each service's adapters hold the one SQL implementation (``SqlTransactions``
in ``runtime/sql_unit_of_work.py`` binds a session to the repositories), and
the tests hold in-memory fakes of the same Protocols. Use cases therefore never
import SQLAlchemy, tables or dialects, and have no branches on the database.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

U_co = TypeVar("U_co", covariant=True)


class Transactions(Protocol[U_co]):
    """Opens units of work of one kind (``U_co``: the service's repositories)."""

    def __call__(self) -> AbstractContextManager[U_co]:
        """A unit of work that commits when the block ends normally and rolls
        back on any exception."""
        ...

    def read(self) -> AbstractContextManager[U_co]:
        """A unit of work for reads: never commits."""
        ...
