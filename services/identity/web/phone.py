"""A mobile number as a second factor: adding one (proved by a texted code) and
removing it from the account page, and signing in with a texted code instead
of the authenticator app (at an agency's sign-in or the account's own).

Offered only when the deployment's messenger can send texts (notify; plain SMTP
cannot)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.identity.domain import phone_numbers
from services.identity.domain.one_time_codes import Check
from services.identity.domain.phone_numbers import PhoneProblem
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.phone_factor import PhoneFactor
from services.identity.service_layer.signin import Outcome
from services.identity.service_layer.throttling import Throttled
from services.identity.web import texts
from services.identity.web.account import AccountPages
from services.identity.web.account_kit import Kit, see_other
from services.identity.web.pending import Pending
from services.runtime.pages import FieldError

PHONE_MESSAGES = {
    PhoneProblem.MISSING: texts.ENTER_PHONE,
    PhoneProblem.INVALID: texts.ENTER_VALID_PHONE,
    PhoneProblem.PREMIUM_RATE: texts.PHONE_PREMIUM_RATE,
}


@dataclass
class PhonePages:
    kit: Kit
    account: AccountPages
    phone_factor: PhoneFactor

    # -- adding and removing the number (a session proved with a second factor) ----------

    async def add(self, request: Request) -> Response:
        found = await self.account.strong(request)
        if isinstance(found, Response):
            return found
        _, account = found
        if not self.kit.safeguards.can_send_sms:
            return self.kit.message_page(request, None, texts.SMS_UNAVAILABLE, 404)
        if request.method == "GET":
            return self._number_form(request, "", [])
        data = await self.kit.flow.form(request, "phone")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request)
        raw = data.get("phone", "")
        parsed = phone_numbers.parse(raw, self.kit.safeguards.rules.phone_region)
        if isinstance(parsed, PhoneProblem):
            error = FieldError("phone", self.kit.t(language, PHONE_MESSAGES[parsed]))
            return self._number_form(request, raw.strip()[:40], [error], status_code=400)
        try:
            ticket = await run_in_threadpool(
                self.phone_factor.start_phone,
                account.id,
                parsed,
                self.kit.browser(request),
                language,
                self.kit.where(request, None),
            )
        except Throttled as refused:
            return self.kit.throttled(request, None, refused.minutes)
        return see_other(f"/account/phone/code?ticket={ticket}")

    async def confirm(self, request: Request) -> Response:
        found = await self.account.strong(request)
        if isinstance(found, Response):
            return found
        _, account = found
        ticket = request.query_params.get("ticket", "")
        action = f"/account/phone/code?ticket={quote(ticket, safe='')}"
        if request.method == "GET":
            return self._code_form(request, None, action, "phone_code", [])
        data = await self.kit.flow.form(request, "phone_code")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request)
        code = data.get("code", "").strip()
        if not code:
            error = FieldError("code", self.kit.t(language, texts.ENTER_CODE))
            return self._code_form(request, None, action, "phone_code", [error], 400)
        where = self.kit.where(request, None)
        try:
            await run_in_threadpool(self.kit.safeguards.check_ip, where)
        except Throttled as refused:
            return self.kit.throttled(request, None, refused.minutes)
        result = await run_in_threadpool(
            self.phone_factor.confirm_phone,
            account.id,
            ticket,
            self.kit.browser(request),
            code,
            where,
            language,
        )
        if result is not Check.OK:
            error = self.kit.code_error(language, result)
            return self._code_form(request, None, action, "phone_code", [error], 400)
        return see_other("/account?phone=added")

    async def remove(self, request: Request) -> Response:
        found = await self.account.strong(request)
        if isinstance(found, Response):
            return found
        _, account = found
        data = await self.kit.flow.form(request, "remove_phone")
        if data is None:
            return self.kit.csrf_failed(request)
        await run_in_threadpool(
            self.phone_factor.remove_phone,
            account.id,
            self.kit.where(request, None),
            self.kit.language(request),
        )
        return see_other("/account?phone=removed")

    # -- a texted code at sign-in ----------------------------------------------------------

    async def send(self, request: Request) -> Response:
        """Text a sign-in code, then ask for it (the session must have passed the
        password step)."""
        pending = await self.kit.pending(request)
        if request.query_params.get("auth") and pending is None:
            return self.kit.flow.error_page(request, self.kit.flow.expired(request))
        signed_in = await self.kit.signed_in(request)
        if signed_in is None:
            return see_other(self._signin(pending))
        data = await self.kit.flow.form(request, "sms_send")
        if data is None:
            return self.kit.csrf_failed(request)
        where = self.kit.where(request, pending)
        try:
            ticket = await run_in_threadpool(
                self._send_code,
                signed_in.session.account_id,
                self.kit.browser(request),
                self.kit.language(request, pending),
                where,
            )
        except Throttled as refused:
            return self.kit.throttled(request, pending, refused.minutes)
        if ticket is None:
            return see_other(self._code_page(pending))
        return see_other(self.kit.with_auth(f"/signin/sms/code?ticket={ticket}", pending))

    def _send_code(self, account_id: str, browser: str, language: str, where: Where) -> str | None:
        if not self.kit.safeguards.can_send_sms:
            return None
        return self.phone_factor.send_signin_code(account_id, browser, language, where)

    async def signin_code(self, request: Request) -> Response:
        pending = await self.kit.pending(request)
        if request.query_params.get("auth") and pending is None:
            return self.kit.flow.error_page(request, self.kit.flow.expired(request))
        signed_in = await self.kit.signed_in(request)
        if signed_in is None:
            return see_other(self._signin(pending))
        ticket = request.query_params.get("ticket", "")
        action = self.kit.with_auth(f"/signin/sms/code?ticket={quote(ticket, safe='')}", pending)
        if request.method == "GET":
            return self._code_form(request, pending, action, "sms_signin", [])
        data = await self.kit.flow.form(request, "sms_signin")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request, pending)
        code = data.get("code", "").strip()
        if not code:
            error = FieldError("code", self.kit.t(language, texts.ENTER_CODE))
            return self._code_form(request, pending, action, "sms_signin", [error], 400)
        where = self.kit.where(request, pending)
        refused = await self.kit.flow.throttled_post(request, where, language)
        if refused is not None:
            return refused
        result = await run_in_threadpool(
            self.phone_factor.check_signin_code,
            signed_in.session.account_id,
            ticket,
            self.kit.browser(request),
            code,
            where,
        )
        if result is Outcome.OK:
            await run_in_threadpool(self.kit.flow.signin.step_up, signed_in.cookie, where)
            return see_other(self.kit.onward(pending))
        if result is Outcome.LOCKED:
            error = await self.kit.locked_error(language, signed_in.session.account_id)
        elif isinstance(result, Outcome):
            error = FieldError("code", self.kit.flow.failure(language, result, "code"))
        else:
            error = self.kit.code_error(language, result)
        return self._code_form(request, pending, action, "sms_signin", [error], 400)

    # -- pages -------------------------------------------------------------------------

    @staticmethod
    def _signin(pending: Pending | None) -> str:
        return f"/signin?auth={pending.id}" if pending else "/account/signin"

    @staticmethod
    def _code_page(pending: Pending | None) -> str:
        return f"/signin/code?auth={pending.id}" if pending else "/account/signin/code"

    def _number_form(
        self, request: Request, phone: str, errors: list[FieldError], status_code: int = 200
    ) -> Response:
        return self.kit.render(
            request,
            "phone.html",
            None,
            status_code=status_code,
            purpose="phone",
            phone=phone,
            errors=errors,
        )

    def _code_form(
        self,
        request: Request,
        pending: Pending | None,
        action: str,
        purpose: str,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        signing_in = purpose == "sms_signin"
        return self.kit.render(
            request,
            "phone_code.html",
            pending,
            status_code=status_code,
            purpose=purpose,
            action=action,
            restart=self._code_page(pending) if signing_in else "/account/phone",
            signing_in=signing_in,
            errors=errors,
        )

    def routes(self) -> list[Route]:
        return [
            Route("/account/phone", self.add, methods=["GET", "POST"]),
            Route("/account/phone/code", self.confirm, methods=["GET", "POST"]),
            Route("/account/phone/remove", self.remove, methods=["POST"]),
            Route("/signin/sms", self.send, methods=["POST"]),
            Route("/signin/sms/code", self.signin_code, methods=["GET", "POST"]),
        ]
