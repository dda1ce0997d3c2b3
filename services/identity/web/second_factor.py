"""The second factor at sign-in (/signin/code): an authenticator app's code, or
a code texted to a proved mobile number (the texting is ``phone.py``'s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from services.identity.domain.accounts import Account
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import Outcome
from services.identity.web.cookies import SIGNIN_COOKIE
from services.identity.web.flow_pages import FlowPages
from services.identity.web.pending import Pending
from services.identity.web.redirects import see_other
from services.runtime.pages import CsrfTokens, FieldError, browser_session


@dataclass
class Factors:
    """Which second factors an account can use in this deployment."""

    csrf: CsrfTokens
    safeguards: Safeguards | None = None

    def can_text(self, account: Account) -> bool:
        """Whether a sign-in code can be texted to the account's proved number."""
        return (
            account.has_sms_factor and self.safeguards is not None and self.safeguards.can_send_sms
        )

    def has_factor(self, account: Account) -> bool:
        """An authenticator app, or a proved mobile number this deployment can text."""
        return account.has_second_factor or self.can_text(account)

    def choices(self, request: Request, account: Account | None) -> dict[str, Any]:
        """What the second-factor page offers: the authenticator's code form, and
        a button to text a code instead (with its own CSRF token)."""
        texts_ok = account is not None and self.can_text(account)
        browser, _ = browser_session(request)
        return {
            "has_totp": account is None or account.has_second_factor,
            "offer_sms": texts_ok,
            "sms_token": self.csrf.issue(browser, "sms_send") if texts_ok else "",
        }


@dataclass
class SecondFactorPage:
    flow: FlowPages
    factors: Factors

    async def second_factor_page(self, request: Request) -> Response:
        flow = self.flow
        pending = await flow.pending_of(request, request.query_params.get("auth"))
        if pending is None:
            return flow.error_page(request, flow.expired(request))
        cookie = request.cookies.get(SIGNIN_COOKIE)
        session = await run_in_threadpool(flow.signin.session, cookie)
        if session is None or cookie is None:
            return see_other(f"/signin?auth={pending.id}")
        language = flow.language(request, pending.request)
        account = await run_in_threadpool(flow.signin.account, session.account_id)
        has_factor = account is not None and self.factors.has_factor(account)
        if not has_factor and self.factors.safeguards is not None:
            # Cl.Cm asked of an account without a second factor: set one up now.
            return see_other(f"/account/authenticator?auth={pending.id}")
        if not has_factor:
            return flow.redirect_to_client(
                pending.request,
                error="access_denied",
                error_description="the citizen has no second factor set up",
            )
        if request.method == "GET":
            return self._form(request, pending, [], account=account)
        data = await flow.form(request, "second_factor")
        if data is None:
            return flow.error_page(request, flow.csrf_failed(request), 403)
        code = data.get("code", "").strip()
        where = flow.where(request, pending.request.client_id)
        refused = await flow.throttled_post(request, where, language)
        if refused is not None:
            return refused
        attempt = await run_in_threadpool(
            flow.signin.second_factor, session.account_id, code, where
        )
        if attempt.outcome is not Outcome.OK:
            reason = flow.failure(language, attempt.outcome, "code", attempt.locked_until)
            errors = [FieldError("code", reason)]
            return self._form(request, pending, errors, status_code=400, account=account)
        await run_in_threadpool(flow.signin.step_up, cookie, where)
        return see_other(f"/authorize/continue?auth={pending.id}")

    def _form(
        self,
        request: Request,
        pending: Pending,
        errors: list[FieldError],
        status_code: int = 200,
        account: Account | None = None,
    ) -> Response:
        return self.flow.render(
            request,
            "second_factor.html",
            self.flow.language(request, pending.request),
            status_code=status_code,
            purpose="second_factor",
            pending_id=pending.id,
            errors=errors,
            **self.factors.choices(request, account),
        )
