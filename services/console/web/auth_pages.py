"""Signing staff in and out, and the start page."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.console.domain.sessions import SignInFailed
from services.console.web.base import ConsoleWeb, Form

log = logging.getLogger(__name__)


class AuthPages:
    def __init__(self, web: ConsoleWeb, identity_logout_url: str) -> None:
        self.web = web
        self.logout_url = identity_logout_url

    def home(self, request: Request, form: Form) -> Response:
        staff = self.web.staff(request)
        teams = self.web.teams.mine(staff) if staff else []
        return self.web.render(request, "home.html", teams=teams)

    def sign_in(self, request: Request, form: Form) -> Response:
        cookie, url = self.web.sign_in.start(
            self.web.language(request), request.query_params.get("next", "/")
        )
        response = RedirectResponse(url, status_code=303)
        self.web.set_cookie(response, cookie)
        return response

    def callback(self, request: Request, form: Form) -> Response:
        try:
            cookie, next_path = self.web.sign_in.finish(
                self.web.cookie(request), dict(request.query_params)
            )
        except SignInFailed as exc:
            log.info("sign-in failed", extra={"error": exc.error})
            return self.web.problem(
                request, 400, "You did not finish signing in. Please try again."
            )
        response = RedirectResponse(next_path, status_code=303)
        self.web.set_cookie(response, cookie)
        return response

    def sign_out(self, request: Request, form: Form) -> Response:
        id_token = self.web.sign_in.sign_out(self.web.cookie(request))
        target = "/"
        if id_token:
            query = urlencode(
                {"id_token_hint": id_token, "post_logout_redirect_uri": self.web.public_url + "/"}
            )
            target = f"{self.logout_url}?{query}"
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie("console_session", path="/")
        return response
