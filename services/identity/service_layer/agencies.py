"""Registering, reading, updating and disabling agencies.

Mutations take an optional idempotency key (``Keyed``, from the gRPC API) and
the operator who acts (``actor``, for the audit log); the registry's own
callers (tests, demo data) may leave both out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from services.identity.domain import agencies, agency_credentials
from services.identity.domain.agencies import LAST_USED_GRANULARITY, Agency, NewAgency
from services.identity.domain.agency_credentials import DEFAULT_OVERLAP, RotatedSecret
from services.identity.domain.agency_profiles import IMPLIED
from services.identity.domain.audit import EventType
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.egress import Egress
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.runtime.idempotency import Keyed, claim_id, complete_id
from services.runtime.pagination import Page, PageRequest

log = logging.getLogger(__name__)

# What an update may change. Public-ness is fixed at registration; mode and the
# credentials change through their own methods (set_mode, rotate_secret,
# revoke_previous_secret, replace_jwks), each with its own rules.
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
    "display_name",
    "logo_uri",
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

    def authenticate_secret(self, agency: Agency, secret: str) -> bool:
        """Whether ``secret`` is one of the agency's live secrets; notes its use
        when the last note is over a minute old (read from ``agency``, so a
        token request writes only then, not every time)."""
        now = self._clock()
        slot = agency.matching_secret(secret, now)
        if slot is None:
            return False
        previous = agency.previous_secret
        stored_hash, used = (
            (agency.secret_hash, agency.secret_last_used_at)
            if slot == "current"
            else (previous.hash if previous else "", previous.last_used_at if previous else None)
        )
        stale_before = now - timedelta(seconds=LAST_USED_GRANULARITY)
        if stored_hash and (used is None or used < stale_before):
            with self._uow() as uow:
                uow.agencies.touch_secret(agency.client_id, stored_hash, slot, now, stale_before)
        return True

    def rotate_secret(
        self,
        client_id: str,
        *,
        overlap: timedelta = DEFAULT_OVERLAP,
        keyed: Keyed | None = None,
        actor: str | None = None,
    ) -> RotatedSecret:
        """A new client secret (in the result only); the one it replaces keeps
        working for ``overlap``. A replayed key returns the agency without a secret."""
        now = self._clock()
        with self._uow() as uow:
            earlier = claim_id(uow.idempotency, keyed)
            if earlier is not None:
                return RotatedSecret(agencies.require(uow.agencies.get(earlier), earlier), "")
            agency = _active(uow.agencies.get(client_id), client_id)
            rotated = agency_credentials.rotate_secret(agency, now, overlap)
            uow.agencies.update(rotated.agency)
            uow.audit.record(
                EventType.AGENCY_SECRET_ROTATED,
                at=now,
                client_id=client_id,
                by=actor,
                overlap_seconds=int(overlap.total_seconds()),
            )
            complete_id(uow.idempotency, keyed, client_id)
        log.info("agency secret rotated", extra={"agency": client_id})
        return rotated

    def revoke_previous_secret(
        self, client_id: str, *, keyed: Keyed | None = None, actor: str | None = None
    ) -> Agency:
        return self._change(
            client_id,
            agency_credentials.revoke_previous_secret,
            EventType.AGENCY_SECRET_REVOKED,
            keyed=keyed,
            actor=actor,
        )

    def replace_jwks(
        self,
        client_id: str,
        jwks: Mapping[str, Any],
        *,
        keyed: Keyed | None = None,
        actor: str | None = None,
    ) -> Agency:
        return self._change(
            client_id,
            lambda agency, _: agency_credentials.replace_jwks(agency, jwks),
            EventType.AGENCY_KEYS_REPLACED,
            keyed=keyed,
            actor=actor,
        )

    def set_mode(
        self, client_id: str, mode: str, *, keyed: Keyed | None = None, actor: str | None = None
    ) -> Agency:
        """Test to live only (going live is one way; see agency_credentials)."""
        if mode != "live":
            raise InvalidArgument.from_violations(
                [FieldViolation("mode", "must be MODE_LIVE: an agency only goes from test to live")]
            )
        return self._change(
            client_id,
            agency_credentials.go_live,
            EventType.AGENCY_MODE_CHANGED,
            keyed=keyed,
            actor=actor,
            mode=mode,
        )

    def _change(
        self,
        client_id: str,
        change: Callable[[Agency, datetime], Agency],
        event: EventType,
        *,
        keyed: Keyed | None,
        actor: str | None,
        **details: Any,
    ) -> Agency:
        now = self._clock()
        with self._uow() as uow:
            earlier = claim_id(uow.idempotency, keyed)
            if earlier is not None:
                return agencies.require(uow.agencies.get(earlier), earlier)
            agency = _active(uow.agencies.get(client_id), client_id)
            changed = change(agency, now)
            if changed != agency:
                uow.agencies.update(changed)
                uow.audit.record(event, at=now, client_id=client_id, by=actor, **details)
            complete_id(uow.idempotency, keyed, client_id)
        log.info("agency changed", extra={"agency": client_id, "event": str(event)})
        return changed


def _active(agency: Agency | None, client_id: str) -> Agency:
    found = agencies.require(agency, client_id)
    if found.disabled:
        raise FailedPrecondition("the agency is disabled")
    return found


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
        "display_name": agency.display_name,
        "logo_uri": agency.logo_uri,
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
