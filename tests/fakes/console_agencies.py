"""An in-memory stand-in for identity's operator methods on a team's agency
(``AgencyAdmin``), with identity's rules that the console's pages meet: one
secret shown per idempotency key, at most two secrets, keys replace secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from services.console.domain.agency_settings import AgencyView, SecretDates, SignInSettings
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def agency_view(agency_id: str, **fields: object) -> AgencyView:
    values: dict[str, object] = {
        "agency_id": agency_id,
        "name": "Parks Agency",
        "mode": "test",
        "disabled": False,
        "uses_keys": False,
        "fapi2": False,
        "public": False,
        "secret": SecretDates(T0, None),
        "previous_secret": None,
        "jwks_json": "",
        "scopes": ("payments:create",),
        "redirect_uris": (),
        "post_logout_redirect_uris": (),
        "sector_identifier": "",
        "display_name": "",
        "logo_uri": "",
        **fields,
    }
    return AgencyView(**values)  # type: ignore[arg-type]


@dataclass
class FakeAgencyAdmin:
    agencies: dict[str, AgencyView] = field(default_factory=dict)
    keys: dict[str, AgencyView] = field(default_factory=dict)  # idempotency key -> result
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, agency)
    updates: list[list[str]] = field(default_factory=list)  # each update's mask
    issued: int = 0

    def get(self, agency_id: str) -> AgencyView:
        return self.agencies.setdefault(agency_id, agency_view(agency_id))

    def rotate_secret(self, agency_id: str, idempotency_key: str) -> tuple[AgencyView, str]:
        self.calls.append(("rotate", agency_id))
        if idempotency_key in self.keys:
            return self.keys[idempotency_key], ""
        agency = self.get(agency_id)
        if not agency.may_have_secret:
            raise FailedPrecondition("the agency does not authenticate with a client secret")
        self.issued += 1
        previous = (
            replace(agency.secret, expires_at=T0 + timedelta(hours=24)) if agency.secret else None
        )
        rotated = replace(agency, secret=SecretDates(T0, None), previous_secret=previous)
        self.agencies[agency_id] = self.keys[idempotency_key] = rotated
        return rotated, f"gaap_{agency.mode}_secret-{self.issued}"

    def revoke_previous_secret(self, agency_id: str, idempotency_key: str) -> AgencyView:
        self.calls.append(("revoke", agency_id))
        agency = self.get(agency_id)
        if agency.previous_secret is None:
            raise FailedPrecondition("the agency has no previous client secret to revoke")
        self.agencies[agency_id] = replace(agency, previous_secret=None)
        return self.agencies[agency_id]

    def replace_jwks(self, agency_id: str, jwks_json: str, idempotency_key: str) -> AgencyView:
        self.calls.append(("jwks", agency_id))
        try:
            keys = json.loads(jwks_json)
        except json.JSONDecodeError:
            raise InvalidArgument.from_violations(
                [FieldViolation("jwks_json", "not JSON")]
            ) from None
        if not isinstance(keys, dict) or not keys.get("keys"):
            raise InvalidArgument.from_violations(
                [FieldViolation("jwks_json", "must be a JWK Set with at least one key")]
            )
        agency = replace(
            self.get(agency_id),
            uses_keys=True,
            secret=None,
            previous_secret=None,
            jwks_json=jwks_json,
        )
        self.agencies[agency_id] = agency
        return agency

    def set_live(self, agency_id: str, idempotency_key: str) -> AgencyView:
        self.calls.append(("live", agency_id))
        agency = self.get(agency_id)
        if agency.disabled:
            raise FailedPrecondition("a disabled agency cannot go live")
        self.agencies[agency_id] = replace(agency, mode="live", secret=None)
        return self.agencies[agency_id]

    def disable(self, agency_id: str, idempotency_key: str) -> AgencyView:
        self.calls.append(("disable", agency_id))
        self.agencies[agency_id] = replace(self.get(agency_id), disabled=True)
        return self.agencies[agency_id]

    def all(self, limit: int = 500) -> list[AgencyView]:
        return sorted(self.agencies.values(), key=lambda a: a.agency_id)[:limit]

    def update_sign_in(
        self, agency_id: str, settings: SignInSettings, fields: list[str], idempotency_key: str
    ) -> AgencyView:
        self.calls.append(("update", agency_id))
        bad = [
            FieldViolation(f"agency.redirect_uris[{i}]", "must be an absolute https URL")
            for i, uri in enumerate(settings.redirect_uris)
            if not uri.startswith("https://")
        ]
        if bad:
            raise InvalidArgument.from_violations(bad)
        self.updates.append(fields)
        agency = replace(self.get(agency_id), **{name: getattr(settings, name) for name in fields})
        self.agencies[agency_id] = agency
        return agency
