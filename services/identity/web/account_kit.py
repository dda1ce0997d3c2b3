"""What the citizen-account pages share: the sign-in flow's rendering, CSRF and
language choice; the signed-in session; the page a finished step goes on to;
error messages for passwords and codes.

``auth`` (a pending authorization request) rides along every page started from
an agency's sign-in, so the citizen lands back in that sign-in afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.identity.domain import assurance, password_policy
from services.identity.domain.one_time_codes import Check
from services.identity.domain.password_policy import PasswordProblem
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import BrowserSession, Outcome
from services.identity.service_layer.throttling import Throttled
from services.identity.web import texts
from services.identity.web.cookies import SIGNIN_COOKIE, set_device_cookie, set_signin_cookie
from services.identity.web.flow_pages import FlowPages
from services.identity.web.pending import Pending
from services.identity.web.second_factor import Factors
from services.runtime.pages import FieldError, browser_session

PASSWORD_MESSAGES = {
    PasswordProblem.MISSING: texts.ENTER_NEW_PASSWORD,
    PasswordProblem.TOO_SHORT: texts.PASSWORD_TOO_SHORT,
    PasswordProblem.TOO_LONG: texts.PASSWORD_TOO_LONG,
    PasswordProblem.COMMON: texts.PASSWORD_COMMON,
    PasswordProblem.LIKE_EMAIL: texts.PASSWORD_LIKE_EMAIL,
}
CODE_MESSAGES = {
    Check.WRONG: texts.CODE_WRONG,
    Check.EXPIRED: texts.CODE_EXPIRED,
    Check.USED: texts.CODE_USED,
    Check.EXHAUSTED: texts.CODE_EXHAUSTED,
}


@dataclass
class SignedIn:
    cookie: str
    session: BrowserSession

    @property
    def strong(self) -> bool:
        return assurance.satisfies(self.session.acr, assurance.MEDIUM)


@dataclass
class Kit:
    flow: FlowPages
    safeguards: Safeguards
    factors: Factors

    # -- language, rendering, forms ------------------------------------------------

    async def pending(self, request: Request) -> Pending | None:
        auth = request.query_params.get("auth")
        if not auth:
            return None
        return await self.flow.pending_of(request, auth)

    def language(self, request: Request, pending: Pending | None = None) -> str:
        return self.flow.language(request, pending.request if pending else None)

    def t(self, language: str, message: str, **values: Any) -> str:
        text = self.flow.pages.gettext(language, message)
        return text % values if values else text

    def render(
        self,
        request: Request,
        template: str,
        pending: Pending | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        context.setdefault("auth", pending.id if pending else "")
        context.setdefault("auth_query", f"?auth={pending.id}" if pending else "")
        context.setdefault("code_minutes", self.safeguards.rules.codes.lifetime.seconds // 60)
        return self.flow.render(
            request, template, self.language(request, pending), status_code=status_code, **context
        )

    def csrf_for(self, request: Request, purpose: str) -> str:
        browser, _ = browser_session(request)
        return self.flow.csrf.issue(browser, purpose)

    def message_page(
        self, request: Request, pending: Pending | None, message: str, status_code: int = 400
    ) -> Response:
        return self.flow.render(
            request,
            "error.html",
            self.language(request, pending),
            status_code=status_code,
            message=self.t(self.language(request, pending), message),
        )

    def csrf_failed(self, request: Request) -> Response:
        return self.flow.error_page(request, self.flow.csrf_failed(request), 403)

    @staticmethod
    def browser(request: Request) -> str:
        return browser_session(request)[0]

    def where(self, request: Request, pending: Pending | None) -> Where:
        return self.flow.where(request, pending.request.client_id if pending else None)

    # -- where a finished step goes --------------------------------------------------

    @staticmethod
    def onward(pending: Pending | None) -> str:
        return f"/authorize/continue?auth={pending.id}" if pending else "/account"

    @staticmethod
    def with_auth(path: str, pending: Pending | None) -> str:
        if pending is None:
            return path
        joiner = "&" if "?" in path else "?"
        return f"{path}{joiner}auth={pending.id}"

    # -- the signed-in citizen -------------------------------------------------------

    async def signed_in(self, request: Request) -> SignedIn | None:
        cookie = request.cookies.get(SIGNIN_COOKIE)
        session = await run_in_threadpool(self.flow.signin.session, cookie)
        if session is None or cookie is None:
            return None
        return SignedIn(cookie, session)

    def set_signin_cookie(self, request: Request, response: Response, cookie: str) -> None:
        set_signin_cookie(request, response, cookie)

    def set_device_cookie(self, request: Request, response: Response, value: str) -> None:
        set_device_cookie(request, response, value)

    # -- validation messages ---------------------------------------------------------

    def email_error(self, language: str, email: str) -> FieldError | None:
        if not email:
            return FieldError("email", self.t(language, texts.ENTER_EMAIL))
        if not valid_email(email):
            return FieldError("email", self.t(language, texts.ENTER_VALID_EMAIL))
        return None

    def password_errors(
        self, language: str, password: str, confirm: str, email: str | None, field: str = "password"
    ) -> list[FieldError]:
        problem = password_policy.problem(password, email)
        if problem is not None:
            return [FieldError(field, self.t(language, PASSWORD_MESSAGES[problem]))]
        if password != confirm:
            return [FieldError("confirm", self.t(language, texts.PASSWORDS_DIFFER))]
        return []

    def code_error(self, language: str, check: Check) -> FieldError:
        return FieldError("code", self.t(language, CODE_MESSAGES.get(check, texts.CODE_WRONG)))

    async def locked_error(self, language: str, account_id: str) -> FieldError:
        """The lock message for a code refused because ``account_id`` is locked,
        with the minutes its lock has left (second-factor locks grow longer)."""
        account = await run_in_threadpool(self.flow.signin.account, account_id)
        until = account.locked_until if account is not None else None
        return FieldError("code", self.flow.failure(language, Outcome.LOCKED, "code", until))

    def outcome_error(
        self,
        language: str,
        outcome: Outcome,
        field: str,
        wrong: str,
        until: datetime | None = None,
    ) -> FieldError:
        if outcome is Outcome.LOCKED:
            return FieldError(field, self.flow.failure(language, outcome, field, until))
        return FieldError(field, self.t(language, wrong))

    # -- the emailed-code step of registration and reset -----------------------------

    def code_form(
        self,
        request: Request,
        pending: Pending | None,
        ticket: str,
        errors: list[FieldError],
        *,
        kind: str,
        status_code: int = 200,
    ) -> Response:
        """The page that asks for the code emailed for ``kind`` (register or reset).
        Registration also offers a new code; a reset is simply started again."""
        quoted = quote(ticket, safe="")
        return self.render(
            request,
            "email_code.html",
            pending,
            status_code=status_code,
            purpose=f"{kind}_code",
            action=self.with_auth(f"/{kind}/code?ticket={quoted}", pending),
            resend=self.with_auth(f"/{kind}/code/resend?ticket={quoted}", pending)
            if kind == "register"
            else "",
            restart=self.with_auth(f"/{kind}", pending),
            kind=kind,
            errors=errors,
        )

    async def checked_code(
        self,
        request: Request,
        kind: str,
        check: Callable[[str, str, str, Where], Any],
    ) -> tuple[Response | None, Any, Pending | None]:
        """Run one emailed-code step: the form on GET; on POST the CSRF token, a
        code entered, the client address not throttled, then ``check(ticket,
        browser, code, where)``. Returns a response to send as it is (the form
        again, an error page), or ``check``'s result for the caller to judge."""
        pending = await self.pending(request)
        ticket = request.query_params.get("ticket", "")
        if request.method == "GET":
            return self.code_form(request, pending, ticket, [], kind=kind), None, pending
        data = await self.flow.form(request, f"{kind}_code")
        if data is None:
            return self.csrf_failed(request), None, pending
        language = self.language(request, pending)
        code = data.get("code", "").strip()
        if not code:
            errors = [FieldError("code", self.t(language, texts.ENTER_CODE))]
            form = self.code_form(request, pending, ticket, errors, kind=kind, status_code=400)
            return form, None, pending
        where = self.where(request, pending)
        try:
            await run_in_threadpool(self.safeguards.check_ip, where)
        except Throttled as refused:
            return self.throttled(request, pending, refused.minutes), None, pending
        result = await run_in_threadpool(check, ticket, self.browser(request), code, where)
        return None, result, pending

    def wrong_code(
        self, request: Request, pending: Pending | None, kind: str, result: Check
    ) -> Response:
        language = self.language(request, pending)
        ticket = request.query_params.get("ticket", "")
        errors = [self.code_error(language, result)]
        return self.code_form(request, pending, ticket, errors, kind=kind, status_code=400)

    def throttled(self, request: Request, pending: Pending | None, minutes: int) -> Response:
        language = self.language(request, pending)
        return self.flow.render(
            request,
            "error.html",
            language,
            status_code=429,
            message=self.t(language, texts.THROTTLED, minutes=minutes),
        )


def valid_email(email: str) -> bool:
    if len(email) > 320:
        return False
    try:
        # Syntax only: no DNS lookups on the request path; reserved test domains
        # (example.gov.test) are accepted, as nothing is delivered to them anyway.
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)
