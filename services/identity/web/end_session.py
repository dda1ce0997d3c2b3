"""Signing out at an agency's request (/logout, OpenID Connect RP-Initiated
Logout 1.0). The session ends without a question only when the agency proves,
with an ID token we issued for it (``id_token_hint``), that it is the session
to end; otherwise the citizen confirms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.identity.domain.signing_keys import ID_TOKEN_ALGORITHMS
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.logout import Logout
from services.identity.web.cookies import SIGNIN_COOKIE
from services.identity.web.flow_pages import FlowPages
from services.identity.web.redirects import parameters, with_query
from services.runtime.keys import KeyCache


@dataclass
class EndSession:
    flow: FlowPages
    registry: AgencyRegistry
    logout: Logout
    keys: KeyCache

    async def end_session(self, request: Request) -> Response:
        flow = self.flow
        params = await parameters(request)
        if params is None:
            return flow.error_page(request, flow.t(request, "This sign-out link is not valid."))
        is_confirmation = request.method == "POST" and "csrf_token" in params
        if is_confirmation and await flow.form(request, "logout") is None:
            return flow.error_page(request, flow.csrf_failed(request), 403)
        hint = params.get("id_token_hint")
        claims = await run_in_threadpool(self.id_token_hint, hint) if hint else None
        if hint and claims is None:
            return flow.error_page(request, flow.t(request, "This sign-out link is not valid."))
        client_id = params.get("client_id") or (claims or {}).get("aud")
        if claims and params.get("client_id") and params["client_id"] != claims.get("aud"):
            return flow.error_page(request, flow.t(request, "This sign-out link is not valid."))
        redirect = params.get("post_logout_redirect_uri")
        agency = (
            await run_in_threadpool(self.registry.find_active, client_id)
            if isinstance(client_id, str)
            else None
        )
        if redirect and (agency is None or redirect not in agency.post_logout_redirect_uris):
            return flow.error_page(
                request, flow.t(request, "The service that sent you here made a mistake.")
            )
        cookie = request.cookies.get(SIGNIN_COOKIE)
        session = await run_in_threadpool(flow.signin.session, cookie)
        if session is not None:
            same = claims is not None and claims.get("sid") == session.sid
            if not same and not is_confirmation:
                # Without proof that this client's session is the one to end, ask.
                return flow.render(
                    request,
                    "logout_confirm.html",
                    flow.language(request),
                    purpose="logout",
                    params={k: v for k, v in params.items() if k != "csrf_token"},
                    agency_name=agency.name if agency else "",
                    errors=[],
                )
            await run_in_threadpool(
                self.logout.end_session,
                session.sid,
                flow.where(request, agency.client_id if agency else None),
            )
        if redirect:
            values = {"state": params["state"]} if "state" in params else {}
            response: Response = RedirectResponse(with_query(redirect, values), status_code=303)
        else:
            response = flow.render(request, "signed_out.html", flow.language(request))
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    def id_token_hint(self, token: str) -> dict[str, Any] | None:
        """An ID token we issued (signature and issuer checked; expiry is allowed,
        as the spec expects hints to be old)."""
        try:
            header = jws.extract_compact(token.encode()).headers()
            alg = header.get("alg")
            published = self.keys.get(str(header.get("kid")))
            if alg not in ID_TOKEN_ALGORITHMS or published is None:
                return None
            public = published.key
            key = ECKey.import_key(public) if alg == "ES256" else RSAKey.import_key(public)
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=[alg]).claims
        except (JoseError, ValueError, TypeError, UnicodeError):
            return None
        if claims.get("iss") != self.flow.issuer or "aud" not in claims or "sub" not in claims:
            return None
        return claims
