"""Registering, reading and disabling agencies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.repositories import SqlAgencyRepository
from services.identity.domain import agencies
from services.identity.domain.agencies import Agency, NewAgency
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.pagination import Page, PageRequest

log = logging.getLogger(__name__)


class AgencyRegistry:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def create(
        self,
        *,
        name: str,
        scopes: list[str],
        redirect_uris: list[str] | None = None,
        mode: str = "test",
        jwks: Mapping[str, Any] | None = None,
        **oidc: Any,
    ) -> NewAgency:
        """Register an agency; ``oidc`` takes the OpenID Connect client metadata
        (public, subject_type, sector_identifier, id_token_alg,
        post_logout_redirect_uris, backchannel_logout_uri)."""
        created = agencies.register(
            name=name,
            scopes=scopes,
            redirect_uris=redirect_uris or [],
            mode=mode,
            jwks=jwks,
            now=self._clock(),
            **oidc,
        )
        with transaction(self._sessions) as session:
            SqlAgencyRepository(session).add(created.agency)
        log.info(
            "agency created",
            extra={"agency": created.agency.client_id, "mode": created.agency.mode},
        )
        return created

    def get(self, client_id: str) -> Agency:
        with self._sessions() as session:
            return agencies.require(SqlAgencyRepository(session).get(client_id), client_id)

    def find_active(self, client_id: str) -> Agency | None:
        """The agency if it exists and is not disabled: the token endpoint's lookup."""
        with self._sessions() as session:
            agency = SqlAgencyRepository(session).get(client_id)
        return agency if agency is not None and not agency.disabled else None

    def list(self, page: PageRequest, *, include_disabled: bool = False) -> Page[Agency]:
        with self._sessions() as session:
            found = SqlAgencyRepository(session).list(
                after=page.after, limit=page.size + 1, include_disabled=include_disabled
            )
        return Page.from_overfetch(found, page.size, key=lambda a: a.client_id)

    def disable(self, client_id: str) -> Agency:
        with transaction(self._sessions) as session:
            repo = SqlAgencyRepository(session)
            agency = agencies.require(repo.get(client_id), client_id)
            disabled = agency.disable(self._clock())
            if disabled is not agency:
                repo.update(disabled)
        log.info("agency disabled", extra={"agency": client_id})
        return disabled
