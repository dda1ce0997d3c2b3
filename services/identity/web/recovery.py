"""Getting back in: resetting a forgotten password with an emailed code, and
signing in with a recovery code when the authenticator app is lost.

The reset pages read the same whether or not the address has an account."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.identity.domain.one_time_codes import Check
from services.identity.service_layer.authenticator import Authenticator
from services.identity.service_layer.passwords import Passwords
from services.identity.service_layer.signin import Outcome
from services.identity.service_layer.throttling import Throttled
from services.identity.web import texts
from services.identity.web.account_kit import Kit, see_other
from services.identity.web.pending import Pending
from services.runtime.pages import FieldError


@dataclass
class RecoveryPages:
    kit: Kit
    passwords: Passwords
    authenticator_app: Authenticator

    # -- forgotten password ----------------------------------------------------------

    async def reset(self, request: Request) -> Response:
        pending = await self.kit.pending(request)
        if request.method == "GET":
            return self._reset_form(request, pending, "", [])
        data = await self.kit.flow.form(request, "reset")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request, pending)
        email = data.get("email", "").strip()
        error = self.kit.email_error(language, email)
        if error is not None:
            return self._reset_form(request, pending, email, [error], status_code=400)
        try:
            ticket = await run_in_threadpool(
                self.passwords.start_reset,
                email,
                self.kit.browser(request),
                language,
                self.kit.where(request, pending),
            )
        except Throttled as refused:
            return self.kit.throttled(request, pending, refused.minutes)
        return see_other(self.kit.with_auth(f"/reset/code?ticket={ticket}", pending))

    def _reset_form(
        self,
        request: Request,
        pending: Pending | None,
        email: str,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        return self.kit.render(
            request,
            "reset.html",
            pending,
            status_code=status_code,
            purpose="reset",
            email=email,
            errors=errors,
        )

    async def reset_code(self, request: Request) -> Response:
        early, result, pending = await self.kit.checked_code(
            request, "reset", self.passwords.check_reset_code
        )
        if early is not None:
            return early
        if result is not Check.OK:
            return self.kit.wrong_code(request, pending, "reset", result)
        ticket = request.query_params.get("ticket", "")
        return see_other(
            self.kit.with_auth(f"/reset/password?ticket={quote(ticket, safe='')}", pending)
        )

    async def new_password(self, request: Request) -> Response:
        pending = await self.kit.pending(request)
        ticket = request.query_params.get("ticket", "")
        browser = self.kit.browser(request)
        email = await run_in_threadpool(self.passwords.reset_ready, ticket, browser)
        if email is None:
            return self.kit.message_page(request, pending, texts.LINK_EXPIRED)
        if request.method == "GET":
            return self._password_form(request, pending, ticket, [])
        data = await self.kit.flow.form(request, "new_password")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request, pending)
        password = data.get("password", "")
        errors = self.kit.password_errors(language, password, data.get("confirm", ""), email)
        if errors:
            return self._password_form(request, pending, ticket, errors, status_code=400)
        account = await run_in_threadpool(
            self.passwords.complete_reset,
            ticket,
            browser,
            password,
            self.kit.where(request, pending),
        )
        if account is None:
            return self.kit.message_page(request, pending, texts.LINK_EXPIRED)
        return self.kit.render(
            request,
            "password_reset_done.html",
            pending,
            signin_href=f"/signin?auth={pending.id}" if pending else "/account/signin",
        )

    def _password_form(
        self,
        request: Request,
        pending: Pending | None,
        ticket: str,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        return self.kit.render(
            request,
            "new_password.html",
            pending,
            status_code=status_code,
            purpose="new_password",
            action=self.kit.with_auth(f"/reset/password?ticket={quote(ticket, safe='')}", pending),
            errors=errors,
        )

    # -- a recovery code instead of the authenticator --------------------------------------

    async def recovery_code(self, request: Request) -> Response:
        """At an agency's sign-in (``auth``) or the account's: after the password,
        a recovery code proves the second factor; the citizen is then offered a
        new authenticator."""
        pending = await self.kit.pending(request)
        if request.query_params.get("auth") and pending is None:
            return self.kit.flow.error_page(request, self.kit.flow.expired(request))
        signed_in = await self.kit.signed_in(request)
        if signed_in is None:
            return see_other(f"/signin?auth={pending.id}" if pending else "/account/signin")
        if request.method == "GET":
            return self._recovery_form(request, pending, [])
        data = await self.kit.flow.form(request, "recovery_code")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request, pending)
        code = data.get("code", "").strip()
        if not code:
            errors = [FieldError("code", self.kit.t(language, texts.ENTER_RECOVERY_CODE))]
            return self._recovery_form(request, pending, errors, status_code=400)
        where = self.kit.where(request, pending)
        refused = await self.kit.flow.throttled_post(request, where, language)
        if refused is not None:
            return refused
        outcome = await run_in_threadpool(
            self.authenticator_app.use_recovery_code, signed_in.session.account_id, code, where
        )
        if outcome is Outcome.LOCKED:
            errors = [await self.kit.locked_error(language, signed_in.session.account_id)]
            return self._recovery_form(request, pending, errors, status_code=400)
        if outcome is not Outcome.OK:
            errors = [self.kit.outcome_error(language, outcome, "code", texts.RECOVERY_CODE_WRONG)]
            return self._recovery_form(request, pending, errors, status_code=400)
        await run_in_threadpool(self.kit.flow.signin.step_up, signed_in.cookie, where)
        return see_other(self.kit.with_auth("/account/authenticator?replace=1", pending))

    def _recovery_form(
        self,
        request: Request,
        pending: Pending | None,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        return self.kit.render(
            request,
            "recovery_code.html",
            pending,
            status_code=status_code,
            purpose="recovery_code",
            action=self.kit.with_auth("/signin/recovery", pending),
            errors=errors,
        )

    def routes(self) -> list[Route]:
        return [
            Route("/reset", self.reset, methods=["GET", "POST"]),
            Route("/reset/code", self.reset_code, methods=["GET", "POST"]),
            Route("/reset/password", self.new_password, methods=["GET", "POST"]),
            Route("/signin/recovery", self.recovery_code, methods=["GET", "POST"]),
        ]
