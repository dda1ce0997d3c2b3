"""A team's credentials and sign-in settings at identity.

Developers and administrators manage credentials (``MANAGE_CREDENTIALS``):
rotate the client secret (the new one is shown once and never stored here),
revoke the previous one, upload a JWK Set for private_key_jwt. Administrators
change the sign-in settings (``MANAGE_SETTINGS``): redirect and logout URIs, the
sector, and the name and logo citizens see on the consent page. Every change is
authorised first and recorded in the team's audit trail: never a secret or a
key, only what changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.console.domain.agency_settings import (
    AgencyView,
    changed_fields,
    parse_sign_in_settings,
)
from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import TeamAccess, authorise, record
from services.console.service_layer.agency_ports import AgencyAdmin
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument

MAX_JWKS = 64 * 1024


@dataclass(frozen=True)
class Rotated:
    agency: AgencyView
    client_secret: str  # empty when the form was sent twice: identity shows it once


class AgencyCredentials:
    def __init__(
        self, transactions: ConsoleTransactions, admin: AgencyAdmin, clock: Clock = utcnow
    ) -> None:
        self._uow = transactions
        self._admin = admin
        self._clock = clock

    def view(self, staff: Staff, team_id: str, action: Action) -> tuple[TeamAccess, AgencyView]:
        access = self._authorise(staff, team_id, action)
        return access, self._admin.get(access.team.agency_id)

    def rotate_secret(self, staff: Staff, team_id: str, request_id: str) -> Rotated:
        access = self._authorise(staff, team_id, Action.MANAGE_CREDENTIALS)
        key = _key("rotate", staff, team_id, request_id)
        agency, secret = self._admin.rotate_secret(access.team.agency_id, key)
        if secret:
            self._record(staff, team_id, "rotate_secret", agency_id=agency.agency_id)
        return Rotated(agency, secret)

    def revoke_previous_secret(self, staff: Staff, team_id: str, request_id: str) -> AgencyView:
        access = self._authorise(staff, team_id, Action.MANAGE_CREDENTIALS)
        key = _key("revoke", staff, team_id, request_id)
        agency = self._admin.revoke_previous_secret(access.team.agency_id, key)
        self._record(staff, team_id, "revoke_secret", agency_id=agency.agency_id)
        return agency

    def replace_jwks(
        self, staff: Staff, team_id: str, jwks_json: str, request_id: str
    ) -> AgencyView:
        access = self._authorise(staff, team_id, Action.MANAGE_CREDENTIALS)
        text = jwks_json.strip()
        if not text:
            raise InvalidArgument.from_violations([FieldViolation("jwks_json", "Enter a JWK Set")])
        if len(text) > MAX_JWKS:
            raise InvalidArgument.from_violations(
                [FieldViolation("jwks_json", "The JWK Set must be 64 KB or smaller")]
            )
        key = _key("jwks", staff, team_id, request_id)
        agency = self._admin.replace_jwks(access.team.agency_id, text, key)
        # The keys' fingerprint names the upload without copying it.
        fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
        self._record(
            staff, team_id, "replace_jwks", agency_id=agency.agency_id, jwks_sha256=fingerprint
        )
        return agency

    def update_sign_in(
        self, staff: Staff, team_id: str, form: dict[str, str], request_id: str
    ) -> AgencyView:
        access = self._authorise(staff, team_id, Action.MANAGE_SETTINGS)
        settings = parse_sign_in_settings(form)
        before = self._admin.get(access.team.agency_id)
        fields = changed_fields(before, settings)
        if not fields:
            return before
        key = _key("settings", staff, team_id, request_id)
        agency = self._admin.update_sign_in(access.team.agency_id, settings, fields, key)
        self._record(
            staff, team_id, "update_sign_in", agency_id=agency.agency_id, fields=",".join(fields)
        )
        return agency

    def _authorise(self, staff: Staff, team_id: str, action: Action) -> TeamAccess:
        with self._uow.read() as uow:
            return authorise(uow, staff, team_id, action)

    def _record(self, staff: Staff, team_id: str, action: str, **details: str) -> None:
        with self._uow() as uow:
            record(uow, staff, team_id, action, self._clock(), **details)


def _key(kind: str, staff: Staff, team_id: str, request_id: str) -> str:
    """identity's idempotency key: one change per form shown, per person."""
    if not request_id:
        raise InvalidArgument.from_violations(
            [FieldViolation("request_id", "This page has expired. Please try again.")]
        )
    digest = hashlib.sha256(f"{kind}\0{staff.subject}\0{team_id}\0{request_id}".encode())
    return f"console-{kind}-{digest.hexdigest()[:40]}"
