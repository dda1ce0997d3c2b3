"""The authorization endpoint (/authorize) and its resumption
(/authorize/continue): check the agency's request, keep it pending, then decide
each time what it still needs (sign-in, a second factor, consent) until the
code goes back to the agency."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.identity.domain import assurance, authorization
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationError, AuthorizationRequest
from services.identity.domain.disclosure import Disclosure
from services.identity.domain.pushed_requests import REQUIRED
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.authorization_flow import CodeIssuer
from services.identity.service_layer.consents import Consents
from services.identity.service_layer.pushed_requests import PushedRequests
from services.identity.service_layer.throttling import Throttled
from services.identity.web import texts
from services.identity.web.cookies import SIGNIN_COOKIE, secure
from services.identity.web.flow_pages import FlowPages
from services.identity.web.pending import Pending
from services.identity.web.redirects import parameters, see_other, with_query
from services.runtime.pages import browser_session
from services.runtime.pages.render import set_session_cookie

log = logging.getLogger(__name__)


@dataclass
class AuthorizationEndpoint:
    flow: FlowPages
    registry: AgencyRegistry
    consents: Consents
    codes: CodeIssuer
    pushed: PushedRequests

    async def authorize(self, request: Request) -> Response:
        flow = self.flow
        params = await parameters(request)
        if params is None:
            return flow.error_page(request, flow.t(request, "This sign-in link is not valid."))
        agency = await run_in_threadpool(self.registry.find_active, params.get("client_id", ""))
        # The parameters a redirected refusal answers: a request object's once verified.
        effective: Mapping[str, str] = params
        try:
            if agency is None:
                authorization.check_client(params, None)
            assert agency is not None
            request_uri = params.get("request_uri")
            if request_uri is not None:  # RFC 9126 §4: then only client_id and request_uri
                parsed = await run_in_threadpool(self.pushed.take, request_uri, agency)
            else:
                objects = self.pushed.objects
                effective, found = await run_in_threadpool(objects.unpack, params, agency)
                parsed = self._direct(effective, agency)
                await run_in_threadpool(objects.spend, found, agency)
        except AuthorizationError as error:
            if not error.redirectable or agency is None:
                log.info("authorization request refused", extra={"error": error.error})
                return flow.error_page(
                    request,
                    flow.t(request, "The service that sent you here made a mistake.")
                    + f" ({error.description})",
                )
            redirect_uri = effective["redirect_uri"]
            values = {"error": error.error, "error_description": error.description}
            if "state" in effective:
                values["state"] = effective["state"]
            values["iss"] = flow.issuer
            return RedirectResponse(with_query(redirect_uri, values), status_code=303)
        if flow.safeguards is not None:
            # Each sign-in started keeps a pending row for 30 minutes: bounded per
            # client address, so nobody can fill the table from one place.
            try:
                where = flow.where(request, parsed.client_id)
                await run_in_threadpool(flow.safeguards.check_authorize, where)
            except Throttled as refused:
                language = flow.language(request, parsed)
                message = flow.pages.gettext(language, texts.THROTTLED)
                return flow.render(
                    request,
                    "error.html",
                    language,
                    status_code=429,
                    message=message % {"minutes": refused.minutes},
                )
        browser, new = browser_session(request)
        pending = await run_in_threadpool(flow.pending.create, parsed, browser)
        response = await self._resume(request, pending)
        if new:
            set_session_cookie(response, browser, secure=secure(request))
        return response

    def _direct(self, params: Mapping[str, str], agency: Agency) -> AuthorizationRequest:
        """A request sent to /authorize itself (its parameters, or its signed
        request object's), if the agency may send it so."""
        authorization.check_client(params, agency)  # the redirect URI is trusted from here
        if self.pushed.required(agency):
            raise AuthorizationError("invalid_request", REQUIRED)
        return authorization.parse(params, agency)

    async def resume(self, request: Request) -> Response:
        pending = await self.flow.pending_of(request, request.query_params.get("auth"))
        if pending is None:
            return self.flow.error_page(request, self.flow.expired(request))
        return await self._resume(request, pending)

    async def _resume(self, request: Request, pending: Pending) -> Response:
        """Decide the next step of a pending request: sign in, step up, consent,
        or the code."""
        flow = self.flow
        req = pending.request
        none = "none" in req.prompt
        session = await run_in_threadpool(flow.signin.session, request.cookies.get(SIGNIN_COOKIE))
        fresh_needed = "login" in req.prompt and pending.signed_in_at is None
        too_old = (
            session is not None
            and req.max_age is not None
            and (flow.clock() - session.auth_time) > timedelta(seconds=req.max_age)
            and pending.signed_in_at is None
        )
        if session is None or fresh_needed or too_old:
            if none:
                return flow.redirect_to_client(
                    req, error="login_required", error_description="the citizen is not signed in"
                )
            return see_other(f"/signin?auth={pending.id}")
        if not assurance.satisfies(session.acr, req.acr):
            if none:
                return flow.redirect_to_client(
                    req,
                    error="login_required",
                    error_description=f"the session does not reach {req.acr}",
                )
            return see_other(f"/signin/code?auth={pending.id}")
        # Every scope and claim asked must be consented by this account for this
        # agency; prompt=none never releases anything new (consent_required).
        given = await run_in_threadpool(self.consents.given, session.account_id, req.client_id)
        consent_needed = bool(given.missing(Disclosure.asked_by(req.scopes, req.claims))) or (
            "consent" in req.prompt and pending.consented_sid != session.sid
        )
        if consent_needed:
            if none:
                return flow.redirect_to_client(
                    req, error="consent_required", error_description="the citizen has not consented"
                )
            return see_other(f"/consent?auth={pending.id}")
        code = await run_in_threadpool(self.codes.issue, pending.id, req, session)
        if code is None:
            return flow.error_page(request, flow.expired(request))
        return flow.redirect_to_client(req, code=code)
