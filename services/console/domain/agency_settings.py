"""A team's agency as identity registers it: its credentials and the sign-in
settings citizens meet. The console shows and changes these through identity's
operator API; it never stores a secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.runtime.errors import FieldViolation, InvalidArgument

MAX_LINES = 20  # identity's limit on redirect URIs


@dataclass(frozen=True)
class SecretDates:
    created_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None = None  # the previous secret's end


@dataclass(frozen=True)
class AgencyView:
    agency_id: str
    name: str
    mode: str  # "test" or "live"
    disabled: bool
    uses_keys: bool  # private_key_jwt
    fapi2: bool
    public: bool
    secret: SecretDates | None
    previous_secret: SecretDates | None
    jwks_json: str
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    sector_identifier: str
    display_name: str
    logo_uri: str

    @property
    def may_have_secret(self) -> bool:
        return not (self.uses_keys or self.fapi2 or self.public)


@dataclass(frozen=True)
class SignInSettings:
    """What an administrator may change on the sign-in settings page."""

    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    sector_identifier: str
    display_name: str
    logo_uri: str


def parse_sign_in_settings(form: dict[str, str]) -> SignInSettings:
    """The form's values: one URI a line; identity checks each URI itself."""
    violations = []
    redirect = _lines(form.get("redirect_uris", ""))
    logout = _lines(form.get("post_logout_redirect_uris", ""))
    for field, lines in (("redirect_uris", redirect), ("post_logout_redirect_uris", logout)):
        if len(lines) > MAX_LINES:
            violations.append(FieldViolation(field, "Enter at most 20 addresses"))
    if violations:
        raise InvalidArgument.from_violations(violations)
    return SignInSettings(
        redirect_uris=redirect,
        post_logout_redirect_uris=logout,
        sector_identifier=form.get("sector_identifier", "").strip(),
        display_name=" ".join(form.get("display_name", "").split()),
        logo_uri=form.get("logo_uri", "").strip(),
    )


def _lines(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def changed_fields(before: AgencyView, after: SignInSettings) -> list[str]:
    """The fields the form changes (UpdateAgency's mask), in a stable order."""
    current = SignInSettings(
        before.redirect_uris,
        before.post_logout_redirect_uris,
        before.sector_identifier,
        before.display_name,
        before.logo_uri,
    )
    names: Sequence[str] = (
        "redirect_uris",
        "post_logout_redirect_uris",
        "sector_identifier",
        "display_name",
        "logo_uri",
    )
    return [n for n in names if getattr(current, n) != getattr(after, n)]
