"""Which of a citizen's details an agency may receive (OIDC Core §5.4, §5.5).

A personal claim leaves identity only through three gates, all of them:

1. registration: the agency's registered scopes cover the claim (``email``
   needs the ``email`` scope registered, ``address`` needs ``address``...). A
   request for a claim the registration does not cover is ignored, as OIDC has
   it for unavailable claims: never released, never even asked;
2. request: the authorization asked for it, by scope or one by one through the
   ``claims`` parameter (in its ``id_token`` or ``userinfo`` member);
3. consent: the citizen agreed to it for this agency, by scope or claim by
   claim. Asking for anything not yet agreed shows the consent page, listing
   only what is new.

Protocol claims (``sub``, ``acr``, ``amr``, ``auth_time``, ``sid``) say how the
citizen signed in, not who they are: they need no consent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Which claims each scope releases (OpenID Connect Core §5.4).
SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}
PROTOCOL_CLAIMS: tuple[str, ...] = ("sub", "acr", "amr", "auth_time", "sid")
PERSONAL_CLAIMS: tuple[str, ...] = tuple(c for cs in SCOPE_CLAIMS.values() for c in cs)
# What each personal claim is, in words for the consent and account pages (each
# is a msgid of the page catalogue).
CLAIM_LABELS: Mapping[str, str] = {
    "name": "your full name",
    "given_name": "your first name",
    "family_name": "your last name",
    "locale": "your preferred language",
    "updated_at": "when you last changed your details",
    "email": "your email address",
    "email_verified": "whether your email address is confirmed",
    "phone_number": "your phone number",
    "phone_number_verified": "whether your phone number is confirmed",
    "address": "your postal address",
}
_SCOPE_OF: Mapping[str, str] = {c: s for s, cs in SCOPE_CLAIMS.items() for c in cs}
CLAIMS_MEMBERS = ("id_token", "userinfo")


def in_order(claims: Iterable[str]) -> tuple[str, ...]:
    """Personal claims in the order of ``PERSONAL_CLAIMS`` (for pages)."""
    wanted = set(claims)
    return tuple(c for c in PERSONAL_CLAIMS if c in wanted)


def scope_of(claim: str) -> str | None:
    """The scope that covers a personal claim (None for any other name)."""
    return _SCOPE_OF.get(claim)


def allowed_claims(registered: Iterable[str]) -> frozenset[str]:
    """The personal claims an agency registered for ``registered`` scopes may ever get."""
    return frozenset(c for s in registered for c in SCOPE_CLAIMS.get(s, ()))


def restrict_request(
    claims: Mapping[str, Mapping[str, Any]] | None, registered: Iterable[str]
) -> dict[str, dict[str, Any]] | None:
    """The ``claims`` parameter without the claims the registration does not cover:
    protocol claims stay (``acr`` carries a requested level), anything else the
    agency could never receive is dropped."""
    if claims is None:
        return None
    keep = allowed_claims(registered) | set(PROTOCOL_CLAIMS)
    return {
        member: {name: spec for name, spec in (claims.get(member) or {}).items() if name in keep}
        for member in CLAIMS_MEMBERS
        if member in claims
    }


def requested_claims(claims: Mapping[str, Mapping[str, Any]] | None, member: str) -> frozenset[str]:
    """The personal claims asked for one by one in one member of the ``claims``
    parameter (``id_token`` or ``userinfo``)."""
    return frozenset(n for n in (claims or {}).get(member) or {} if n in _SCOPE_OF)


def releasable(
    scopes: Iterable[str], one_by_one: Iterable[str], registered: Iterable[str]
) -> frozenset[str]:
    """The personal claims a grant of ``scopes`` plus ``one_by_one`` claims may
    release now: only those the agency's current registration covers."""
    names = {c for s in scopes for c in SCOPE_CLAIMS.get(s, ())} | set(one_by_one)
    return frozenset(names) & allowed_claims(registered)


@dataclass(frozen=True)
class Disclosure:
    """Scopes, and personal claims agreed one by one: what a citizen consented to
    for one agency, or what one authorization request asks for."""

    scopes: frozenset[str] = frozenset()
    claims: frozenset[str] = frozenset()

    @classmethod
    def of(cls, scopes: Iterable[str], claims: Iterable[str] = ()) -> Disclosure:
        return cls(frozenset(scopes), frozenset(c for c in claims if c in _SCOPE_OF))

    @classmethod
    def asked_by(
        cls, scopes: Iterable[str], claims: Mapping[str, Mapping[str, Any]] | None
    ) -> Disclosure:
        """What an authorization request asks for: its scopes and every personal
        claim of its ``claims`` parameter, in either member."""
        return cls.of(
            scopes, requested_claims(claims, "id_token") | requested_claims(claims, "userinfo")
        )

    def __bool__(self) -> bool:
        return bool(self.scopes or self.claims)

    def covers_claim(self, claim: str) -> bool:
        return claim in self.claims or scope_of(claim) in self.scopes

    def missing(self, wanted: Disclosure) -> Disclosure:
        """What ``wanted`` asks that this consent does not cover: the consent page
        lists exactly this. A claim whose scope is asked anew is covered by that
        scope's line."""
        return Disclosure(
            wanted.scopes - self.scopes,
            frozenset(
                c
                for c in wanted.claims
                if not self.covers_claim(c) and scope_of(c) not in wanted.scopes
            ),
        )

    def merged(self, other: Disclosure) -> Disclosure:
        return Disclosure(self.scopes | other.scopes, self.claims | other.claims)

    def released(self, registered: Iterable[str]) -> frozenset[str]:
        """The personal claims this consent lets the agency receive, within its
        current registration (the account page and the audit trail say these)."""
        return releasable(self.scopes, self.claims, registered)
