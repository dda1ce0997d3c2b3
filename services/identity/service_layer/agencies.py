"""Registering, reading, updating and disabling agencies.

Mutations take an optional idempotency key (``Keyed``, from the gRPC API) and
the operator who acts (``actor``, for the audit log); the registry's own
callers (tests, demo data) may leave both out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from services.identity.domain import agencies
from services.identity.domain.agencies import Agency, NewAgency
from services.identity.domain.agency_profiles import IMPLIED
from services.identity.domain.audit import EventType
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.egress import Egress
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.idempotency import Keyed, claim_id, complete_id
from services.runtime.pagination import Page, PageRequest

log = logging.getLogger(__name__)

# What an update may change. mode (test/live), the credential and public-ness
# are fixed at registration: changing them means a new agency.
UPDATABLE = (
    "name",
    "scopes",
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "subject_type",
    "sector_identifier",
    "id_token_alg",
    "require_pushed_authorization_requests",
    "profile",
    "require_signed_request_object",
    "dpop_bound_access_tokens",
)


# One agency by client id, read outside any unit of work: the token endpoint's
# lookup, which the SQL adapter makes on a plain connection (no session's
# bookkeeping on every token request).
FindAgency = Callable[[str], Agency | None]


class AgencyRegistry:
    def __init__(
        self,
        uow: IdentityTransactions,
        clock: Clock = utcnow,
        *,
        egress: Egress,
        find: FindAgency | None = None,
    ) -> None:
        self._uow = uow
        self._find = find or self._read
        self._clock = clock
        self._egress = egress  # what a back-channel logout URI may point at

    def create(
        self,
        *,
        name: str,
        scopes: list[str],
        redirect_uris: list[str] | None = None,
        mode: str = "test",
        jwks: Mapping[str, Any] | None = None,
        keyed: Keyed | None = None,
        actor: str | None = None,
        **oidc: Any,
    ) -> NewAgency:
        """Register an agency; ``oidc`` takes the OpenID Connect client metadata
        (public, subject_type, sector_identifier, id_token_alg,
        post_logout_redirect_uris, backchannel_logout_uri) and the security
        options (profile, require_pushed_authorization_requests,
        require_signed_request_object, dpop_bound_access_tokens). A replayed
        idempotency key returns the agency it created, without its secret."""
        now = self._clock()
        created = agencies.register(
            name=name,
            scopes=scopes,
            redirect_uris=redirect_uris or [],
            mode=mode,
            jwks=jwks,
            now=now,
            egress=self._egress,
            **oidc,
        )
        with self._uow() as uow:
            earlier = claim_id(uow.idempotency, keyed)
            if earlier is not None:
                return NewAgency(agencies.require(uow.agencies.get(earlier), earlier), None)
            uow.agencies.add(created.agency)
            uow.audit.record(
                EventType.AGENCY_CREATED,
                at=now,
                client_id=created.agency.client_id,
                by=actor,
                mode=created.agency.mode,
                profile=created.agency.profile,
            )
            complete_id(uow.idempotency, keyed, created.agency.client_id)
        log.info(
            "agency created",
            extra={
                "agency": created.agency.client_id,
                "mode": created.agency.mode,
                "profile": created.agency.profile,
            },
        )
        return created

    def get(self, client_id: str) -> Agency:
        with self._uow.read() as uow:
            return agencies.require(uow.agencies.get(client_id), client_id)

    def find_active(self, client_id: str) -> Agency | None:
        """The agency if it exists and is not disabled: the token endpoint's lookup.
        Inside a unit of work, read ``uow.agencies`` instead: on SQLite a second
        connection would wait for the one the transaction holds."""
        agency = self._find(client_id)
        return agency if agency is not None and not agency.disabled else None

    def _read(self, client_id: str) -> Agency | None:
        with self._uow.read() as uow:
            return uow.agencies.get(client_id)

    def list(self, page: PageRequest, *, include_disabled: bool = False) -> Page[Agency]:
        with self._uow.read() as uow:
            found = uow.agencies.list(
                after=page.after, limit=page.size + 1, include_disabled=include_disabled
            )
        return Page.from_overfetch(found, page.size, key=lambda a: a.client_id)

    def update(
        self,
        client_id: str,
        changes: Mapping[str, Any],
        *,
        keyed: Keyed | None = None,
        actor: str | None = None,
    ) -> Agency:
        """Change the fields in ``changes`` (names from ``UPDATABLE``); the result
        is validated exactly as a registration is, every problem at once."""
        unknown = [f for f in changes if f not in UPDATABLE]
        if unknown or not changes:
            raise InvalidArgument.from_violations(
                [
                    FieldViolation(
                        "update_mask",
                        f"name at least one of {', '.join(UPDATABLE)}"
                        + (f"; cannot change {', '.join(unknown)}" if unknown else ""),
                    )
                ]
            )
        now = self._clock()
        with self._uow() as uow:
            earlier = claim_id(uow.idempotency, keyed)
            if earlier is not None:
                return agencies.require(uow.agencies.get(earlier), earlier)
            agency = agencies.require(uow.agencies.get(client_id), client_id)
            updated = _revalidated(agency, changes, self._egress)
            uow.agencies.update(updated)
            uow.audit.record(
                EventType.AGENCY_UPDATED,
                at=now,
                client_id=client_id,
                by=actor,
                fields=sorted(changes),
            )
            complete_id(uow.idempotency, keyed, client_id)
        log.info("agency updated", extra={"agency": client_id})
        return updated

    def disable(
        self, client_id: str, *, keyed: Keyed | None = None, actor: str | None = None
    ) -> Agency:
        with self._uow() as uow:
            earlier = claim_id(uow.idempotency, keyed)
            if earlier is not None:
                return agencies.require(uow.agencies.get(earlier), earlier)
            agency = agencies.require(uow.agencies.get(client_id), client_id)
            disabled = agency.disable(self._clock())
            if disabled is not agency:
                uow.agencies.update(disabled)
                uow.audit.record(
                    EventType.AGENCY_DISABLED,
                    at=disabled.disabled_at or self._clock(),
                    client_id=client_id,
                    by=actor,
                )
            complete_id(uow.idempotency, keyed, client_id)
        log.info("agency disabled", extra={"agency": client_id})
        return disabled


def _revalidated(agency: Agency, changes: Mapping[str, Any], egress: Egress) -> Agency:
    """``agency`` with ``changes``, checked by the registration rules themselves
    (so an update can never store what registration would refuse)."""
    merged: dict[str, Any] = {
        "name": agency.name,
        "scopes": list(agency.scopes),
        "redirect_uris": list(agency.redirect_uris),
        "post_logout_redirect_uris": list(agency.post_logout_redirect_uris),
        "backchannel_logout_uri": agency.backchannel_logout_uri,
        "subject_type": agency.subject_type,
        "sector_identifier": agency.sector_identifier,
        "id_token_alg": agency.id_token_alg,
        "require_pushed_authorization_requests": agency.require_pushed_authorization_requests,
        "profile": agency.profile,
        "require_signed_request_object": agency.require_signed_request_object,
        "dpop_bound_access_tokens": agency.dpop_bound_access_tokens,
        **changes,
    }
    if merged["profile"] == "fapi2":
        # Set by the profile unless this update asks otherwise (then refused).
        merged.update({name: None for name in IMPLIED if name not in changes})
    checked = agencies.register(
        mode=agency.mode,
        jwks=agency.jwks,
        public=agency.public,
        now=agency.created_at,
        egress=egress,
        **merged,
    ).agency
    return replace(agency, **{field: getattr(checked, field) for field in UPDATABLE})
