"""The routes of an agency's sign-in, from /authorize to the code (and /logout),
each served by the page that owns it."""

from __future__ import annotations

from starlette.routing import Route

from services.identity.service_layer.account_activity import AccountActivity
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.authorization_flow import CodeIssuer
from services.identity.service_layer.consents import Consents
from services.identity.service_layer.logout import Logout
from services.identity.service_layer.pushed_requests import PushedRequests
from services.identity.web.authorize import AuthorizationEndpoint
from services.identity.web.consent import ConsentPage
from services.identity.web.end_session import EndSession
from services.identity.web.flow_pages import FlowPages
from services.identity.web.second_factor import Factors, SecondFactorPage
from services.identity.web.signin_pages import SignInPage
from services.runtime.keys import KeyCache


def signin_flow_routes(
    flow: FlowPages,
    *,
    registry: AgencyRegistry,
    consents: Consents,
    codes: CodeIssuer,
    factors: Factors,
    logout: Logout,
    keys: KeyCache,
    pushed: PushedRequests,
    activity: AccountActivity | None = None,
) -> list[Route]:
    authorization = AuthorizationEndpoint(flow, registry, consents, codes, pushed)
    signin = SignInPage(flow, registry, activity)
    second_factor = SecondFactorPage(flow, factors)
    consent = ConsentPage(flow, registry, consents)
    end_session = EndSession(flow, registry, logout, keys)
    return [
        Route("/authorize", authorization.authorize, methods=["GET", "POST"]),
        Route("/authorize/continue", authorization.resume, methods=["GET"]),
        Route("/signin", signin.signin_page, methods=["GET", "POST"]),
        Route("/signin/code", second_factor.second_factor_page, methods=["GET", "POST"]),
        Route("/consent", consent.consent_page, methods=["GET", "POST"]),
        Route("/logout", end_session.end_session, methods=["GET", "POST"]),
    ]
