"""Creating an account: an email address and a password, then the emailed code.

An address that already has an account gets the same pages (and an email telling
its owner); its code page only ever refuses."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.identity.domain import assurance
from services.identity.domain.accounts import Account
from services.identity.service_layer.account_activity import AccountActivity
from services.identity.service_layer.registration import Registration
from services.identity.service_layer.throttling import Throttled
from services.identity.web.account_kit import Kit, see_other
from services.identity.web.cookies import DEVICE_COOKIE
from services.identity.web.pending import Pending
from services.runtime.pages import FieldError


@dataclass
class RegistrationPages:
    kit: Kit
    registration: Registration
    activity: AccountActivity

    async def register(self, request: Request) -> Response:
        pending = await self.kit.pending(request)
        if request.method == "GET":
            return self._form(request, pending, "", [])
        data = await self.kit.flow.form(request, "register")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request, pending)
        email = data.get("email", "").strip()
        password = data.get("password", "")
        errors = [e for e in [self.kit.email_error(language, email)] if e]
        errors += self.kit.password_errors(
            language, password, data.get("confirm", ""), email if not errors else None
        )
        if errors:
            return self._form(request, pending, email, errors, status_code=400)
        try:
            ticket = await run_in_threadpool(
                self.registration.register,
                email,
                password,
                self.kit.browser(request),
                language,
                self.kit.where(request, pending),
            )
        except Throttled as refused:
            return self.kit.throttled(request, pending, refused.minutes)
        return see_other(self.kit.with_auth(f"/register/code?ticket={ticket}", pending))

    def _form(
        self,
        request: Request,
        pending: Pending | None,
        email: str,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        return self.kit.render(
            request,
            "register.html",
            pending,
            status_code=status_code,
            purpose="register",
            email=email,
            errors=errors,
        )

    async def code(self, request: Request) -> Response:
        early, result, pending = await self.kit.checked_code(
            request, "register", self.registration.confirm_registration
        )
        if early is not None:
            return early
        if not isinstance(result, Account):
            return self.kit.wrong_code(request, pending, "register", result)
        language = self.kit.language(request, pending)
        where = self.kit.where(request, pending)
        # Signed in at once (password and a proved address), then on to the
        # authenticator app: every account has a second factor.
        cookie, _ = await run_in_threadpool(
            self.kit.flow.signin.start_session, result, assurance.LOW, where
        )
        device = await run_in_threadpool(
            self.activity.note_device,
            result,
            request.cookies.get(DEVICE_COOKIE),
            where,
            language,
        )
        response = see_other(self.kit.with_auth("/account/authenticator", pending))
        self.kit.set_signin_cookie(request, response, cookie)
        self.kit.set_device_cookie(request, response, device)
        return response

    async def resend(self, request: Request) -> Response:
        """A new code for the registration in progress; the old one stops working.
        A ticket that is unknown, used or another browser's starts again."""
        pending = await self.kit.pending(request)
        data = await self.kit.flow.form(request, "register_code")
        if data is None:
            return self.kit.csrf_failed(request)
        try:
            fresh = await run_in_threadpool(
                self.registration.resend_registration,
                request.query_params.get("ticket", ""),
                self.kit.browser(request),
                self.kit.where(request, pending),
            )
        except Throttled as refused:
            return self.kit.throttled(request, pending, refused.minutes)
        if fresh is None:
            return see_other(self.kit.with_auth("/register", pending))
        return see_other(self.kit.with_auth(f"/register/code?ticket={fresh}", pending))

    def routes(self) -> list[Route]:
        return [
            Route("/register", self.register, methods=["GET", "POST"]),
            Route("/register/code", self.code, methods=["GET", "POST"]),
            Route("/register/code/resend", self.resend, methods=["POST"]),
        ]
