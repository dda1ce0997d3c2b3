"""The password sign-in page (/signin) of an agency's sign-in."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from services.identity.domain import assurance
from services.identity.domain.agencies import Agency
from services.identity.service_layer.account_activity import AccountActivity
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.signin import Outcome
from services.identity.web.cookies import DEVICE_COOKIE, set_device_cookie, set_signin_cookie
from services.identity.web.flow_pages import FlowPages
from services.identity.web.pending import Pending
from services.identity.web.redirects import see_other
from services.runtime.pages import FieldError


@dataclass
class SignInPage:
    flow: FlowPages
    registry: AgencyRegistry
    # New-device alerts; None in deployments of the provider alone.
    activity: AccountActivity | None = None

    async def signin_page(self, request: Request) -> Response:
        flow = self.flow
        pending = await flow.pending_of(request, request.query_params.get("auth"))
        if pending is None:
            return flow.error_page(request, flow.expired(request))
        agency = await run_in_threadpool(self.registry.find_active, pending.request.client_id)
        if request.method == "GET":
            return self._form(request, pending, agency, pending.request.login_hint or "", [])
        data = await flow.form(request, "signin")
        if data is None:
            return flow.error_page(request, flow.csrf_failed(request), 403)
        language = flow.language(request, pending.request)
        email = data.get("email", "").strip()
        password = data.get("password", "")
        errors = []
        if not email:
            errors.append(
                FieldError("email", flow.pages.gettext(language, "Enter your email address"))
            )
        if not password:
            errors.append(
                FieldError("password", flow.pages.gettext(language, "Enter your password"))
            )
        if errors:
            return self._form(request, pending, agency, email, errors, status_code=400)
        where = flow.where(request, pending.request.client_id)
        refused = await flow.throttled_post(request, where, language)
        if refused is not None:
            return refused
        attempt = await run_in_threadpool(flow.signin.password, email, password, where)
        if attempt.outcome is not Outcome.OK or attempt.account is None:
            reason = flow.failure(language, attempt.outcome, "password", attempt.locked_until)
            errors = [FieldError("email", reason)]
            return self._form(request, pending, agency, email, errors, status_code=400)
        # A new session on every password sign-in (no session fixation).
        cookie, _ = await run_in_threadpool(
            flow.signin.start_session, attempt.account, assurance.LOW, where
        )
        await run_in_threadpool(flow.pending.update, pending, signed_in_at=flow.clock())
        response = see_other(f"/authorize/continue?auth={pending.id}")
        set_signin_cookie(request, response, cookie)
        if self.activity is not None:
            device = await run_in_threadpool(
                self.activity.note_device,
                attempt.account,
                request.cookies.get(DEVICE_COOKIE),
                where,
                language,
            )
            set_device_cookie(request, response, device)
        return response

    def _form(
        self,
        request: Request,
        pending: Pending,
        agency: Agency | None,
        email: str,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        return self.flow.render(
            request,
            "signin.html",
            self.flow.language(request, pending.request),
            status_code=status_code,
            purpose="signin",
            pending_id=pending.id,
            agency_name=agency.name if agency else "",
            email=email,
            errors=errors,
        )
