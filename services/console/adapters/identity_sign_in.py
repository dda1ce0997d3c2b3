"""Staff sign-in through identity with gaap_client's relying party
(authorization code + PKCE, ID token checked locally, UserInfo for the email)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gaap_client import OpenIdClient, PendingSignIn, SignInError
from services.console.domain.sessions import SignedIn, SignInFailed
from services.console.domain.staff import Staff, normalise_email

SCOPE = "openid email profile"
# Staff act for agencies: a password and a second factor, always.
ACR = ("Cl.Cm",)


class IdentitySignIn:
    def __init__(self, oidc: OpenIdClient) -> None:
        self._oidc = oidc

    def start(self, language: str) -> tuple[str, dict[str, Any]]:
        pending = self._oidc.start(scope=SCOPE, acr_values=ACR, ui_locales=[language])
        return pending.url, pending.to_dict()

    def finish(self, pending: Mapping[str, Any], params: Mapping[str, str]) -> SignedIn:
        try:
            signed_in = self._oidc.finish(PendingSignIn.from_dict(pending), params)
        except SignInError as exc:
            raise SignInFailed(exc.error) from None
        profile = signed_in.profile
        given, family = profile.get("given_name", ""), profile.get("family_name", "")
        staff = Staff(
            subject=signed_in.subject,
            email=normalise_email(str(profile.get("email", ""))),
            email_verified=profile.get("email_verified") is True,
            name=str(profile.get("name") or f"{given} {family}".strip()),
        )
        return SignedIn(staff, signed_in.id_token)
