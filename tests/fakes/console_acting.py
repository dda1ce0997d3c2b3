"""An in-memory fake of the console's ``AgencyCalls`` port
(services/console/service_layer/acting_for.py): hands out the client a test set
up for each agency, and records which agency and scopes each page asked for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

C = TypeVar("C")


@dataclass
class FakeAgencyCalls(Generic[C]):
    """``clients``: each agency's client (a fake of payments and notify's stubs);
    an agency without one is refused as identity refuses an unknown subject."""

    clients: dict[str, C] = field(default_factory=dict)
    connected: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    open: int = 0  # clients not closed yet

    @contextmanager
    def connect(self, agency_id: str, scopes: tuple[str, ...]) -> Iterator[C]:
        if agency_id not in self.clients:
            raise LookupError(f"invalid_request: no active agency {agency_id!r}")
        self.connected.append((agency_id, scopes))
        self.open += 1
        try:
            yield self.clients[agency_id]
        finally:
            self.open -= 1
