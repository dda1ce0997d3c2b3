"""The token endpoint's agency lookup (``agencies.FindAgency``): one query on a
plain connection, without an ORM session's bookkeeping on every request."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.repositories import find_agency
from services.identity.domain.agencies import Agency


def agency_finder(sessions: sessionmaker[Session]) -> Callable[[str], Agency | None]:
    engine = sessions.kw["bind"]

    def find(client_id: str) -> Agency | None:
        with engine.connect() as connection:
            return find_agency(connection, client_id)

    return find
