"""The citizen's account: signing in to it, the account page (details, second
factors, agencies signed in to with withdraw-consent), setting up or replacing
the authenticator app, changing the password, signing out everywhere.

Everything but setting up a first authenticator needs a session proved with a
second factor (Cl.Cm)."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.identity.domain import assurance, totp
from services.identity.domain.accounts import Account
from services.identity.domain.disclosure import CLAIM_LABELS
from services.identity.service_layer.account_activity import AccountActivity
from services.identity.service_layer.authenticator import Authenticator, Enrolment
from services.identity.service_layer.passwords import Passwords
from services.identity.service_layer.signin import Outcome
from services.identity.service_layer.throttling import Throttled
from services.identity.web import texts
from services.identity.web.account_kit import Kit, SignedIn, see_other
from services.identity.web.cookies import DEVICE_COOKIE, SIGNIN_COOKIE
from services.identity.web.pending import Pending
from services.runtime.pages import FieldError

ISSUER_NAME = "GaaP"


def qr_svg(uri: str) -> str:
    """An inline SVG QR code (no JavaScript, no image request)."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, dark="#0b0c0c", light="#ffffff")
    return svg


def group(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@dataclass
class AccountPages:
    kit: Kit
    activity: AccountActivity
    passwords: Passwords
    authenticator_app: Authenticator

    # -- signing in to the account -------------------------------------------------------

    async def signin(self, request: Request) -> Response:
        if request.method == "GET":
            return self._signin_form(request, "", [])
        data = await self.kit.flow.form(request, "account_signin")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request)
        email = data.get("email", "").strip()
        password = data.get("password", "")
        errors = []
        if not email:
            errors.append(FieldError("email", self.kit.t(language, texts.ENTER_EMAIL)))
        if not password:
            errors.append(FieldError("password", self.kit.t(language, texts.ENTER_PASSWORD)))
        if errors:
            return self._signin_form(request, email, errors, status_code=400)
        where = self.kit.where(request, None)
        try:
            await run_in_threadpool(self.kit.safeguards.check_ip, where)
        except Throttled as refused:
            return self.kit.throttled(request, None, refused.minutes)
        attempt = await run_in_threadpool(self.kit.flow.signin.password, email, password, where)
        if attempt.outcome is not Outcome.OK or attempt.account is None:
            message = self.kit.flow.failure(
                language, attempt.outcome, "password", attempt.locked_until
            )
            return self._signin_form(
                request, email, [FieldError("email", message)], status_code=400
            )
        account = attempt.account
        cookie, _ = await run_in_threadpool(
            self.kit.flow.signin.start_session, account, assurance.LOW, where
        )
        device = await run_in_threadpool(
            self.activity.note_device,
            account,
            request.cookies.get(DEVICE_COOKIE),
            where,
            language,
        )
        next_page = (
            "/account/signin/code"
            if self.kit.factors.has_factor(account)
            else "/account/authenticator"
        )
        response = see_other(next_page)
        self.kit.set_signin_cookie(request, response, cookie)
        self.kit.set_device_cookie(request, response, device)
        return response

    def _signin_form(
        self, request: Request, email: str, errors: list[FieldError], status_code: int = 200
    ) -> Response:
        return self.kit.render(
            request,
            "signin.html",
            None,
            status_code=status_code,
            purpose="account_signin",
            action="/account/signin",
            pending_id="",
            agency_name="",
            email=email,
            errors=errors,
        )

    async def second_factor(self, request: Request) -> Response:
        signed_in = await self.kit.signed_in(request)
        if signed_in is None:
            return see_other("/account/signin")
        account = await run_in_threadpool(
            self.kit.flow.signin.account, signed_in.session.account_id
        )
        if request.method == "GET":
            return self._code_form(request, account, [])
        data = await self.kit.flow.form(request, "account_code")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request)
        where = self.kit.where(request, None)
        refused = await self.kit.flow.throttled_post(request, where, language)
        if refused is not None:
            return refused
        attempt = await run_in_threadpool(
            self.kit.flow.signin.second_factor,
            signed_in.session.account_id,
            data.get("code", "").strip(),
            where,
        )
        if attempt.outcome is not Outcome.OK:
            error = self.kit.outcome_error(
                language, attempt.outcome, "code", texts.TOTP_WRONG, attempt.locked_until
            )
            return self._code_form(request, account, [error], status_code=400)
        await run_in_threadpool(self.kit.flow.signin.step_up, signed_in.cookie, where)
        return see_other("/account")

    def _code_form(
        self,
        request: Request,
        account: Account | None,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        return self.kit.render(
            request,
            "second_factor.html",
            None,
            status_code=status_code,
            purpose="account_code",
            action="/account/signin/code",
            pending_id="",
            errors=errors,
            **self.kit.factors.choices(request, account),
        )

    # -- guards ------------------------------------------------------------------------

    async def strong(self, request: Request) -> tuple[SignedIn, Account] | Response:
        """The signed-in citizen proved with a second factor, or where to go."""
        signed_in = await self.kit.signed_in(request)
        if signed_in is None:
            return see_other("/account/signin")
        account = await run_in_threadpool(
            self.kit.flow.signin.account, signed_in.session.account_id
        )
        if account is None:
            return see_other("/account/signin")
        if not self.kit.factors.has_factor(account):
            return see_other("/account/authenticator")
        if not signed_in.strong:
            return see_other("/account/signin/code")
        return signed_in, account

    # -- the account page ----------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        found = await self.strong(request)
        if isinstance(found, Response):
            return found
        _, account = found
        agencies = await run_in_threadpool(self.activity.agencies, account.id)
        left = await run_in_threadpool(self.authenticator_app.recovery_codes_left, account.id)
        return self.kit.render(
            request,
            "account.html",
            None,
            purpose="account",
            account=account,
            agencies=agencies,
            claim_labels=CLAIM_LABELS,
            recovery_codes_left=left,
            withdraw_token=self.kit.csrf_for(request, "withdraw"),
            everywhere_token=self.kit.csrf_for(request, "everywhere"),
            can_send_sms=self.kit.safeguards.can_send_sms,
            remove_phone_token=self.kit.csrf_for(request, "remove_phone"),
            phone_notice=request.query_params.get("phone", ""),
            withdrawn=request.query_params.get("withdrawn") == "1",
            changed=request.query_params.get("changed") == "1",
        )

    async def withdraw(self, request: Request) -> Response:
        found = await self.strong(request)
        if isinstance(found, Response):
            return found
        _, account = found
        data = await self.kit.flow.form(request, "withdraw")
        if data is None:
            return self.kit.csrf_failed(request)
        done = await run_in_threadpool(
            self.activity.withdraw_consent,
            account.id,
            data.get("client_id", ""),
            self.kit.where(request, None),
        )
        if not done:
            return self.kit.message_page(request, None, texts.CONSENT_NOT_FOUND, 404)
        return see_other("/account?withdrawn=1")

    async def everywhere(self, request: Request) -> Response:
        found = await self.strong(request)
        if isinstance(found, Response):
            return found
        _, account = found
        data = await self.kit.flow.form(request, "everywhere")
        if data is None:
            return self.kit.csrf_failed(request)
        await run_in_threadpool(
            self.activity.sign_out_everywhere, account.id, self.kit.where(request, None)
        )
        response = self.kit.render(request, "signed_out_everywhere.html", None)
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    # -- password ------------------------------------------------------------------------

    async def password(self, request: Request) -> Response:
        found = await self.strong(request)
        if isinstance(found, Response):
            return found
        signed_in, account = found
        if request.method == "GET":
            return self._password_form(request, [])
        data = await self.kit.flow.form(request, "change_password")
        if data is None:
            return self.kit.csrf_failed(request)
        language = self.kit.language(request)
        current = data.get("current", "")
        new = data.get("password", "")
        errors = []
        if not current:
            errors.append(FieldError("current", self.kit.t(language, texts.ENTER_PASSWORD)))
        errors += self.kit.password_errors(language, new, data.get("confirm", ""), account.email)
        if errors:
            return self._password_form(request, errors, status_code=400)
        outcome = await run_in_threadpool(
            self.passwords.change_password,
            account.id,
            current,
            new,
            self.kit.where(request, None),
            language,
            signed_in.session.sid,
        )
        if outcome is not Outcome.OK:
            error = self.kit.outcome_error(
                language, outcome, "current", texts.CURRENT_PASSWORD_WRONG
            )
            return self._password_form(request, [error], status_code=400)
        return see_other("/account?changed=1")

    def _password_form(
        self, request: Request, errors: list[FieldError], status_code: int = 200
    ) -> Response:
        return self.kit.render(
            request,
            "change_password.html",
            None,
            status_code=status_code,
            purpose="change_password",
            errors=errors,
        )

    # -- the authenticator app -------------------------------------------------------------

    async def authenticator(self, request: Request) -> Response:
        """Set up the authenticator app (a first one right after registration or
        sign-in, or a replacement once the session has a second factor)."""
        pending = await self.kit.pending(request)
        if request.query_params.get("auth") and pending is None:
            return self.kit.flow.error_page(request, self.kit.flow.expired(request))
        signed_in = await self.kit.signed_in(request)
        if signed_in is None:
            return see_other(f"/signin?auth={pending.id}" if pending else "/account/signin")
        account = await run_in_threadpool(
            self.kit.flow.signin.account, signed_in.session.account_id
        )
        if account is None:
            return see_other("/account/signin")
        if self.kit.factors.has_factor(account) and not signed_in.strong:
            return see_other(
                self.kit.with_auth("/signin/code", pending) if pending else "/account/signin/code"
            )
        if request.method == "GET":
            enrolment = self.authenticator_app.new_enrolment(account.id)
            return self._enrol_form(request, pending, account, enrolment, [])
        data = await self.kit.flow.form(request, "authenticator")
        if data is None:
            return self.kit.csrf_failed(request)
        enrolment = Enrolment(data.get("secret", ""), data.get("proof", ""))
        if not self.authenticator_app.valid_enrolment(
            account.id, enrolment.secret, enrolment.proof
        ):
            return self.kit.csrf_failed(request)
        language = self.kit.language(request, pending)
        code = data.get("code", "").strip()
        where = self.kit.where(request, pending)
        codes = await run_in_threadpool(
            self.authenticator_app.confirm_totp, account.id, enrolment, code, where, language
        )
        if codes is None:
            error = FieldError("code", self.kit.t(language, texts.TOTP_WRONG))
            return self._enrol_form(request, pending, account, enrolment, [error], 400)
        await run_in_threadpool(self.kit.flow.signin.step_up, signed_in.cookie, where)
        return self.kit.render(
            request,
            "recovery_codes.html",
            pending,
            codes=codes,
            onward=self.kit.onward(pending),
        )

    def _enrol_form(
        self,
        request: Request,
        pending: Pending | None,
        account: Account,
        enrolment: Enrolment,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        uri = totp.provisioning_uri(enrolment.secret, account.email, ISSUER_NAME)
        replacing = account.has_second_factor
        return self.kit.render(
            request,
            "authenticator.html",
            pending,
            status_code=status_code,
            purpose="authenticator",
            action=self.kit.with_auth("/account/authenticator", pending),
            qr=qr_svg(uri),
            secret=enrolment.secret,
            secret_grouped=group(enrolment.secret),
            proof=enrolment.proof,
            replacing=replacing,
            skip=self.kit.onward(pending) if replacing else "",
            errors=errors,
        )

    def routes(self) -> list[Route]:
        return [
            Route("/account", self.overview, methods=["GET"]),
            Route("/account/signin", self.signin, methods=["GET", "POST"]),
            Route("/account/signin/code", self.second_factor, methods=["GET", "POST"]),
            Route("/account/authenticator", self.authenticator, methods=["GET", "POST"]),
            Route("/account/password", self.password, methods=["GET", "POST"]),
            Route("/account/consents/withdraw", self.withdraw, methods=["POST"]),
            Route("/account/signout-everywhere", self.everywhere, methods=["POST"]),
        ]
