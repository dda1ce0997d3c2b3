"""What every page of the sign-in flow shares (and the citizen-account pages,
through ``account_kit``): rendering with a CSRF token in the citizen's language,
CSRF-checked forms, the pending request a page continues, the client address,
the per-address throttle, the redirect back to the agency, and the messages
for expired pages and refused attempts.

Every page is server-rendered and works without JavaScript; every form carries
a CSRF token bound to the browser; argon2id and database work run on worker
threads, never on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.identity.domain.authorization import AuthorizationRequest
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import Outcome, SignIn
from services.identity.service_layer.throttling import Throttled
from services.identity.web import texts
from services.identity.web.cookies import secure
from services.identity.web.failure_messages import failure_message
from services.identity.web.language import language_links, page_language
from services.identity.web.pending import Pending, PendingStore
from services.identity.web.redirects import with_query
from services.runtime.client_address import client_ip
from services.runtime.pages import CsrfTokens, Pages, browser_session
from services.runtime.pages.render import set_language_cookie, set_session_cookie

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class FlowPages:
    issuer: str
    pages: Pages
    csrf: CsrfTokens
    signin: SignIn
    pending: PendingStore
    lock_minutes: int = 15
    clock: Callable[[], datetime] = _utcnow
    # Citizen accounts (throttling, whether codes can be texted); None in
    # deployments of the provider alone.
    safeguards: Safeguards | None = None

    # -- language and rendering ---------------------------------------------------

    def language(self, request: Request, asked: AuthorizationRequest | None = None) -> str:
        return page_language(request, self.pages.languages, asked)

    def render(
        self,
        request: Request,
        template: str,
        language: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        browser, new = browser_session(request)
        purpose = context.setdefault("purpose", template)
        context.setdefault("errors", [])
        response = self.pages.render(
            template,
            language,
            status_code=status_code,
            csrf_token=self.csrf.issue(browser, purpose),
            language_links=language_links(request, self.pages.languages),
            **context,
        )
        if new:
            set_session_cookie(response, browser, secure=secure(request))
        if request.query_params.get("lang") in self.pages.languages:
            set_language_cookie(response, request.query_params["lang"], secure=secure(request))
        return response

    def error_page(self, request: Request, message: str, status_code: int = 400) -> Response:
        return self.render(
            request, "error.html", self.language(request), status_code=status_code, message=message
        )

    # -- what a page reads from the request -------------------------------------------

    async def form(self, request: Request, purpose: str) -> dict[str, str] | None:
        """The posted form if its CSRF token is good for this browser and for
        ``purpose``, the form the endpoint takes (never what the post says: a
        token minted for one form is refused by every other). The body's size
        is limited as it arrives (services.runtime.body_limit)."""
        # NUL never belongs in a form field, and PostgreSQL refuses it in text.
        data = {
            k: v.replace("\x00", "")
            for k, v in (await request.form()).items()
            if isinstance(v, str)
        }
        browser, _ = browser_session(request)
        if not self.csrf.check(browser, purpose, data.get("csrf_token", "")):
            return None
        return data

    async def pending_of(self, request: Request, pending_id: str | None) -> Pending | None:
        """The pending request ``pending_id`` if this browser started it."""
        return await run_in_threadpool(self._pending, request, pending_id)

    def _pending(self, request: Request, pending_id: str | None) -> Pending | None:
        browser, _ = browser_session(request)
        if not pending_id or not _SAFE_ID.fullmatch(pending_id):
            return None  # also keeps NUL and the like away from the database
        return self.pending.get(pending_id, browser)

    @staticmethod
    def where(request: Request, client_id: str | None) -> Where:
        return Where(ip=client_ip(request), client_id=client_id)

    async def throttled_post(
        self, request: Request, where: Where, language: str
    ) -> Response | None:
        """Count one password or code post from the client address; the page
        to answer with (429) when it is past the limit, else None."""
        if self.safeguards is None:
            return None
        try:
            await run_in_threadpool(self.safeguards.check_ip, where)
        except Throttled as refused:
            message = self.pages.gettext(language, texts.THROTTLED) % {"minutes": refused.minutes}
            return self.render(request, "error.html", language, status_code=429, message=message)
        return None

    # -- back to the agency ---------------------------------------------------------------

    def redirect_to_client(
        self, request: AuthorizationRequest, **params: str | None
    ) -> RedirectResponse:
        """Back to the client's registered redirect URI, with ``state`` and ``iss``
        (RFC 9207, so the client can tell which issuer answered)."""
        values = {k: v for k, v in params.items() if v is not None}
        if request.state is not None:
            values["state"] = request.state
        values["iss"] = self.issuer
        return RedirectResponse(with_query(request.redirect_uri, values), status_code=303)

    # -- messages ---------------------------------------------------------------------------

    def failure(
        self, language: str, outcome: Outcome, factor: str, until: datetime | None = None
    ) -> str:
        return failure_message(
            self.pages,
            language,
            outcome,
            factor,
            until=until,
            now=self.clock(),
            lock_minutes=self.lock_minutes,
        )

    def t(self, request: Request, message: str) -> str:
        return self.pages.gettext(self.language(request), message)

    def expired(self, request: Request) -> str:
        return self.t(
            request,
            "This sign-in has expired. Go back to the service you were using and start again.",
        )

    def csrf_failed(self, request: Request) -> str:
        return self.t(
            request, "This page has expired or the form was sent twice. Please try again."
        )
