"""Staff sign-in: through identity, into a server-side session.

``start`` keeps the pending sign-in (state, nonce, PKCE verifier) in a fresh
session; ``finish`` redeems the code and replaces that session with a new one
holding the staff member, so a cookie planted before sign-in is worth nothing
after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from services.console.domain.sessions import (
    LIFETIME,
    PENDING_LIFETIME,
    BrowserSession,
    SignInFailed,
    new_cookie,
    session_key,
    well_formed,
)
from services.console.domain.staff import Staff, operator_of
from services.console.service_layer.ports import ConsoleTransactions, StaffSignIn
from services.runtime.clock import Clock, utcnow


def local_path(value: str) -> str:
    """Only a path on the console itself: never another site (open redirect)."""
    if value.startswith("/") and not value.startswith(("//", "/\\")) and value.isprintable():
        return value
    return "/"


class SignIn:
    def __init__(
        self,
        transactions: ConsoleTransactions,
        identity: StaffSignIn,
        operator_emails: frozenset[str],
        clock: Clock = utcnow,
    ) -> None:
        self._uow = transactions
        self._identity = identity
        self._operators = operator_emails
        self._clock = clock

    def start(self, language: str, next_path: str) -> tuple[str, str]:
        """A new session's cookie, and where to send the browser."""
        url, pending = self._identity.start(language)
        cookie = new_cookie()
        session = BrowserSession(
            expires_at=self._clock() + PENDING_LIFETIME,
            pending={**pending, "next": local_path(next_path)},
        )
        with self._uow() as uow:
            # Sessions name their staff member: they go once they have ended.
            uow.sessions.purge(self._clock())
            uow.sessions.store(session_key(cookie), session)
        return cookie, url

    def finish(self, cookie: str, params: Mapping[str, str]) -> tuple[str, str]:
        """The signed-in session's new cookie, and the path to go on to."""
        session = self._session(cookie)
        if session is None or not session.pending:
            raise SignInFailed("no_sign_in")
        signed_in = self._identity.finish(session.pending, params)
        staff = replace(
            signed_in.staff,
            operator=operator_of(
                signed_in.staff.email, signed_in.staff.email_verified, self._operators
            ),
        )
        fresh = new_cookie()
        with self._uow() as uow:
            uow.sessions.delete(session_key(cookie))
            uow.sessions.store(
                session_key(fresh),
                BrowserSession(
                    expires_at=self._clock() + LIFETIME, staff=staff, id_token=signed_in.id_token
                ),
            )
        return fresh, local_path(str(session.pending.get("next", "/")))

    def staff(self, cookie: str) -> Staff | None:
        session = self._session(cookie)
        return session.staff if session else None

    def sign_out(self, cookie: str) -> str:
        """Forget the session; its ID token (for identity's logout), if any."""
        session = self._session(cookie)
        if session is None:
            return ""
        with self._uow() as uow:
            uow.sessions.delete(session_key(cookie))
        return session.id_token

    def _session(self, cookie: str) -> BrowserSession | None:
        if not well_formed(cookie):
            return None
        with self._uow.read() as uow:
            session = uow.sessions.load(session_key(cookie))
        if session is None or not session.live(self._clock()):
            return None
        return session
