"""The consent page (/consent): what the agency asks that this account has not
yet agreed to share with it."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from services.identity.domain.agencies import Agency
from services.identity.domain.disclosure import CLAIM_LABELS, Disclosure, in_order
from services.identity.domain.scopes import KNOWN_SCOPES
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.consents import Consents
from services.identity.service_layer.signin import BrowserSession
from services.identity.web import texts
from services.identity.web.cookies import SIGNIN_COOKIE
from services.identity.web.flow_pages import FlowPages
from services.identity.web.pending import Pending
from services.identity.web.redirects import see_other

log = logging.getLogger(__name__)


@dataclass
class ConsentPage:
    flow: FlowPages
    registry: AgencyRegistry
    consents: Consents

    async def consent_page(self, request: Request) -> Response:
        """The consent page lists what is new for the signed-in account; its form
        carries a digest of who saw what (``shown``). Allow grants only when the
        same session and account would be granted exactly what was listed: a
        sign-in as someone else in another tab, or a change to what is asked or
        already agreed, shows the page again for the current account instead."""
        flow = self.flow
        pending = await flow.pending_of(request, request.query_params.get("auth"))
        if pending is None:
            return flow.error_page(request, flow.expired(request))
        session = await run_in_threadpool(flow.signin.session, request.cookies.get(SIGNIN_COOKIE))
        if session is None:
            return see_other(f"/signin?auth={pending.id}")
        req = pending.request
        asked = Disclosure.asked_by(req.scopes, req.claims)
        agency = await run_in_threadpool(self.registry.find_active, req.client_id)
        if agency is None:
            return flow.error_page(request, flow.expired(request))
        given = await run_in_threadpool(self.consents.given, session.account_id, req.client_id)
        # Only what is new; with nothing new (prompt=consent), all that is asked.
        new = given.missing(asked) or Disclosure().missing(asked)
        listed = shown(pending, session, new)
        if request.method == "GET":
            return self._form(request, pending, agency, new, listed)
        data = await flow.form(request, "consent")
        if data is None:
            return flow.error_page(request, flow.csrf_failed(request), 403)
        if data.get("decision") != "allow":
            return flow.redirect_to_client(
                req, error="access_denied", error_description="the citizen did not consent"
            )
        if not secrets.compare_digest(data.get("shown", ""), listed):
            log.info("consent refused: the page was shown to another session or listed less")
            return self._form(request, pending, agency, new, listed, changed=True, status_code=409)
        await run_in_threadpool(
            self.consents.grant,
            session.account_id,
            req.client_id,
            asked,
            agency.scopes,
            flow.where(request, req.client_id),
        )
        await run_in_threadpool(flow.pending.update, pending, consented_sid=session.sid)
        return see_other(f"/authorize/continue?auth={pending.id}")

    def _form(
        self,
        request: Request,
        pending: Pending,
        agency: Agency,
        new: Disclosure,
        listed: str,
        *,
        changed: bool = False,
        status_code: int = 200,
    ) -> Response:
        flow = self.flow
        req = pending.request
        language = flow.language(request, req)
        scopes = [
            (s, flow.pages.gettext(language, KNOWN_SCOPES[s]))
            for s in req.scopes
            if s in new.scopes and s in KNOWN_SCOPES
        ]
        claims = [flow.pages.gettext(language, CLAIM_LABELS[c]) for c in in_order(new.claims)]
        response = flow.render(
            request,
            "consent.html",
            language,
            status_code=status_code,
            purpose="consent",
            pending_id=pending.id,
            agency_name=agency.display_name or agency.name,
            logo_uri=agency.logo_uri,
            scopes=scopes,
            claims=claims,
            shown=listed,
            changed=flow.pages.gettext(language, texts.CONSENT_CHANGED) if changed else "",
            errors=[],
        )
        # The agency's logo is an https URL the citizen's browser loads (identity
        # never fetches it); no other origin's images, and no plain http ones.
        response.headers["content-security-policy"] = CONSENT_CSP
        return response


CONSENT_CSP = "frame-ancestors 'none'; img-src 'self' https:"


def shown(pending: Pending, session: BrowserSession, new: Disclosure) -> str:
    """A digest of one consent page: the pending request, the session and account
    it was shown to, and what it listed. Allow counts only if it is unchanged."""
    listed = [
        pending.id,
        session.sid,
        session.account_id,
        sorted(new.scopes),
        sorted(new.claims),
    ]
    return hashlib.sha256(json.dumps(listed).encode()).hexdigest()
