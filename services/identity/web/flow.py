"""The citizen's side of OpenID Connect: /authorize, sign-in, second factor,
consent and logout pages.

Every page is server-rendered and works without JavaScript; every form carries a
CSRF token bound to the browser; argon2id and database work run on worker
threads, never on the event loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.identity.adapters.token_store import SqlAuthorizationCodes
from services.identity.domain import assurance, authorization
from services.identity.domain.accounts import Account
from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationError, AuthorizationRequest
from services.identity.domain.disclosure import CLAIM_LABELS, Disclosure, in_order
from services.identity.domain.scopes import KNOWN_SCOPES
from services.identity.service_layer.account_activity import AccountActivity
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.consents import Consents
from services.identity.service_layer.logout import Logout
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import BrowserSession, Outcome, SignIn
from services.identity.service_layer.throttling import Throttled
from services.identity.web import texts
from services.identity.web.pending import Pending, PendingStore
from services.runtime.client_address import client_ip
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.keys import KeyCache
from services.runtime.pages import CsrfTokens, FieldError, Pages, browser_session, choose_language
from services.runtime.pages.render import LANGUAGE_COOKIE, set_language_cookie, set_session_cookie

log = logging.getLogger(__name__)

SIGNIN_COOKIE = "gaap_signin"
DEVICE_COOKIE = "gaap_device"  # a long-lived id of the browser, for new-device alerts
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LONGEST_SAID = timedelta(days=1)  # the longest lock by wrong codes (domain.lockout)


@dataclass
class Flow:
    issuer: str
    sessions: sessionmaker[Session]
    pages: Pages
    csrf: CsrfTokens
    registry: AgencyRegistry
    signin: SignIn
    tokens: CitizenTokens
    pending: PendingStore
    logout: Logout
    keys: KeyCache
    lock_minutes: int = 15
    clock: Callable[[], datetime] = utcnow
    # Citizen accounts (throttling, whether codes can be texted, new-device
    # alerts); None in deployments of the provider alone.
    safeguards: Safeguards | None = None
    activity: AccountActivity | None = None
    consents: Consents = field(init=False)

    def __post_init__(self) -> None:
        self.consents = Consents(self.sessions, self.clock)

    @staticmethod
    def secure(request: Request) -> bool:
        """Cookies are Secure when the page is served over TLS (X-Forwarded-Proto
        counts from GAAP_TRUSTED_PROXIES only: services.runtime.client_address)."""
        return request.url.scheme == "https"

    # -- helpers --------------------------------------------------------------

    def language(self, request: Request, request_hint: AuthorizationRequest | None = None) -> str:
        hint = None
        if request_hint is not None:
            for tag in request_hint.ui_locales:
                hint = tag
                break
        return choose_language(
            self.pages.languages,
            explicit=request.query_params.get("lang"),
            cookie=request.cookies.get(LANGUAGE_COOKIE),
            hint=hint,
            accept_language=request.headers.get("accept-language"),
        )

    def render(
        self,
        request: Request,
        template: str,
        language: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        browser, new = browser_session(request)
        purpose = context.setdefault("purpose", template)
        context.setdefault("errors", [])
        response = self.pages.render(
            template,
            language,
            status_code=status_code,
            csrf_token=self.csrf.issue(browser, purpose),
            language_links=self._language_links(request),
            **context,
        )
        if new:
            set_session_cookie(response, browser, secure=self.secure(request))
        if request.query_params.get("lang") in self.pages.languages:
            set_language_cookie(response, request.query_params["lang"], secure=self.secure(request))
        return response

    def _language_links(self, request: Request) -> list[tuple[str, str, str]]:
        labels = {"en": "English", "zh-Hans": "中文"}
        links = []
        for tag in self.pages.languages:
            query = {k: v for k, v in request.query_params.items() if k != "lang"}
            query["lang"] = tag
            links.append((tag, labels.get(tag, tag), f"{request.url.path}?{urlencode(query)}"))
        return links

    def error_page(self, request: Request, message: str, status_code: int = 400) -> Response:
        return self.render(
            request, "error.html", self.language(request), status_code=status_code, message=message
        )

    async def form(self, request: Request, purpose: str) -> dict[str, str] | None:
        """The posted form if its CSRF token is good for this browser and for
        ``purpose``, the form the endpoint takes (never what the post says: a
        token minted for one form is refused by every other). The body's size
        is limited as it arrives (services.runtime.body_limit)."""
        # NUL never belongs in a form field, and PostgreSQL refuses it in text.
        data = {
            k: v.replace("\x00", "")
            for k, v in (await request.form()).items()
            if isinstance(v, str)
        }
        browser, _ = browser_session(request)
        if not self.csrf.check(browser, purpose, data.get("csrf_token", "")):
            return None
        return data

    def where(self, request: Request, client_id: str | None) -> Where:
        return Where(ip=client_ip(request), client_id=client_id)

    async def throttled_post(
        self, request: Request, where: Where, language: str
    ) -> Response | None:
        """Count one password or code post from the client address; the page
        to answer with (429) when it is past the limit, else None."""
        if self.safeguards is None:
            return None
        try:
            await run_in_threadpool(self.safeguards.check_ip, where)
        except Throttled as refused:
            message = self.pages.gettext(language, texts.THROTTLED) % {"minutes": refused.minutes}
            return self.render(request, "error.html", language, status_code=429, message=message)
        return None

    def _pending(self, request: Request, pending_id: str | None) -> Pending | None:
        browser, _ = browser_session(request)
        if not pending_id or not _SAFE_ID.fullmatch(pending_id):
            return None  # also keeps NUL and the like away from the database
        return self.pending.get(pending_id, browser)

    def redirect_to_client(
        self, request: AuthorizationRequest, **params: str | None
    ) -> RedirectResponse:
        """Back to the client's registered redirect URI, with ``state`` and ``iss``
        (RFC 9207, so the client can tell which issuer answered)."""
        values = {k: v for k, v in params.items() if v is not None}
        if request.state is not None:
            values["state"] = request.state
        values["iss"] = self.issuer
        return RedirectResponse(_with_query(request.redirect_uri, values), status_code=303)

    # -- /authorize -------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        params = await _parameters(request)
        if params is None:
            return self.error_page(request, self._t(request, "This sign-in link is not valid."))
        agency = await run_in_threadpool(self.registry.find_active, params.get("client_id", ""))
        try:
            if agency is None:
                authorization.check_client(params, None)
            assert agency is not None
            parsed = authorization.parse(params, agency)
        except AuthorizationError as error:
            if not error.redirectable or agency is None:
                log.info("authorization request refused", extra={"error": error.error})
                return self.error_page(
                    request,
                    self._t(request, "The service that sent you here made a mistake.")
                    + f" ({error.description})",
                )
            redirect_uri = params["redirect_uri"]
            values = {"error": error.error, "error_description": error.description}
            if "state" in params:
                values["state"] = params["state"]
            values["iss"] = self.issuer
            return RedirectResponse(_with_query(redirect_uri, values), status_code=303)
        if self.safeguards is not None:
            # Each sign-in started keeps a pending row for 30 minutes: bounded per
            # client address, so nobody can fill the table from one place.
            try:
                where = self.where(request, parsed.client_id)
                await run_in_threadpool(self.safeguards.check_authorize, where)
            except Throttled as refused:
                language = self.language(request, parsed)
                message = self.pages.gettext(language, texts.THROTTLED)
                return self.render(
                    request,
                    "error.html",
                    language,
                    status_code=429,
                    message=message % {"minutes": refused.minutes},
                )
        browser, new = browser_session(request)
        pending = await run_in_threadpool(self.pending.create, parsed, browser)
        response = await self._resume(request, pending)
        if new:
            set_session_cookie(response, browser, secure=self.secure(request))
        return response

    async def resume(self, request: Request) -> Response:
        pending = await run_in_threadpool(self._pending, request, request.query_params.get("auth"))
        if pending is None:
            return self.error_page(request, self._expired(request))
        return await self._resume(request, pending)

    async def _resume(self, request: Request, pending: Pending) -> Response:
        """Decide the next step of a pending request: sign in, step up, consent,
        or the code."""
        req = pending.request
        none = "none" in req.prompt
        session = await run_in_threadpool(self.signin.session, request.cookies.get(SIGNIN_COOKIE))
        fresh_needed = "login" in req.prompt and pending.signed_in_at is None
        too_old = (
            session is not None
            and req.max_age is not None
            and (self.clock() - session.auth_time) > timedelta(seconds=req.max_age)
            and pending.signed_in_at is None
        )
        if session is None or fresh_needed or too_old:
            if none:
                return self.redirect_to_client(
                    req, error="login_required", error_description="the citizen is not signed in"
                )
            return _see_other(f"/signin?auth={pending.id}")
        if not assurance.satisfies(session.acr, req.acr):
            if none:
                return self.redirect_to_client(
                    req,
                    error="login_required",
                    error_description=f"the session does not reach {req.acr}",
                )
            return _see_other(f"/signin/code?auth={pending.id}")
        # Every scope and claim asked must be consented by this account for this
        # agency; prompt=none never releases anything new (consent_required).
        given = await run_in_threadpool(self.consents.given, session.account_id, req.client_id)
        consent_needed = bool(given.missing(Disclosure.asked_by(req.scopes, req.claims))) or (
            "consent" in req.prompt and pending.consented_sid != session.sid
        )
        if consent_needed:
            if none:
                return self.redirect_to_client(
                    req, error="consent_required", error_description="the citizen has not consented"
                )
            return _see_other(f"/consent?auth={pending.id}")
        code = await run_in_threadpool(self._issue_code, pending, session)
        if code is None:
            return self.error_page(request, self._expired(request))
        return self.redirect_to_client(req, code=code)

    def _issue_code(self, pending: Pending, session: BrowserSession) -> str | None:
        with transaction(self.sessions) as db:
            if not self.pending.finish(db, pending.id):
                return None
            return self.tokens.create_code(
                SqlAuthorizationCodes(db),
                pending.request,
                account_id=session.account_id,
                sid=session.sid,
                acr=session.acr,
                amr=list(session.amr),
                auth_time=session.auth_time,
            )

    # -- sign in ------------------------------------------------------------------

    async def signin_page(self, request: Request) -> Response:
        pending = await run_in_threadpool(self._pending, request, request.query_params.get("auth"))
        if pending is None:
            return self.error_page(request, self._expired(request))
        agency = await run_in_threadpool(self.registry.find_active, pending.request.client_id)
        if request.method == "GET":
            return self._signin_form(request, pending, agency, pending.request.login_hint or "", [])
        data = await self.form(request, "signin")
        if data is None:
            return self.error_page(request, self._csrf_failed(request), 403)
        language = self.language(request, pending.request)
        email = data.get("email", "").strip()
        password = data.get("password", "")
        errors = []
        if not email:
            errors.append(
                FieldError("email", self.pages.gettext(language, "Enter your email address"))
            )
        if not password:
            errors.append(
                FieldError("password", self.pages.gettext(language, "Enter your password"))
            )
        if errors:
            return self._signin_form(request, pending, agency, email, errors, status_code=400)
        where = self.where(request, pending.request.client_id)
        refused = await self.throttled_post(request, where, language)
        if refused is not None:
            return refused
        attempt = await run_in_threadpool(self.signin.password, email, password, where)
        if attempt.outcome is not Outcome.OK or attempt.account is None:
            reason = self._failure(language, attempt.outcome, "password", attempt.locked_until)
            errors = [FieldError("email", reason)]
            return self._signin_form(request, pending, agency, email, errors, status_code=400)
        # A new session on every password sign-in (no session fixation).
        cookie, _ = await run_in_threadpool(
            self.signin.start_session, attempt.account, assurance.LOW, where
        )
        await run_in_threadpool(self.pending.update, pending, signed_in_at=self.clock())
        response = _see_other(f"/authorize/continue?auth={pending.id}")
        self._set_signin_cookie(request, response, cookie)
        if self.activity is not None:
            device = await run_in_threadpool(
                self.activity.note_device,
                attempt.account,
                request.cookies.get(DEVICE_COOKIE),
                where,
                language,
            )
            response.set_cookie(
                DEVICE_COOKIE,
                device,
                max_age=400 * 24 * 3600,
                httponly=True,
                samesite="lax",
                secure=self.secure(request),
                path="/",
            )
        return response

    def _signin_form(
        self,
        request: Request,
        pending: Pending,
        agency: Agency | None,
        email: str,
        errors: list[FieldError],
        status_code: int = 200,
    ) -> Response:
        return self.render(
            request,
            "signin.html",
            self.language(request, pending.request),
            status_code=status_code,
            purpose="signin",
            pending_id=pending.id,
            agency_name=agency.name if agency else "",
            email=email,
            errors=errors,
        )

    def _set_signin_cookie(self, request: Request, response: Response, cookie: str) -> None:
        response.set_cookie(
            SIGNIN_COOKIE,
            cookie,
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
            path="/",
        )

    async def second_factor_page(self, request: Request) -> Response:
        pending = await run_in_threadpool(self._pending, request, request.query_params.get("auth"))
        if pending is None:
            return self.error_page(request, self._expired(request))
        cookie = request.cookies.get(SIGNIN_COOKIE)
        session = await run_in_threadpool(self.signin.session, cookie)
        if session is None or cookie is None:
            return _see_other(f"/signin?auth={pending.id}")
        language = self.language(request, pending.request)
        account = await run_in_threadpool(self.signin.account, session.account_id)
        has_factor = account is not None and self.has_factor(account)
        if not has_factor and self.safeguards is not None:
            # Cl.Cm asked of an account without a second factor: set one up now.
            return _see_other(f"/account/authenticator?auth={pending.id}")
        if not has_factor:
            return self.redirect_to_client(
                pending.request,
                error="access_denied",
                error_description="the citizen has no second factor set up",
            )
        if request.method == "GET":
            return self._code_form(request, pending, [], account=account)
        data = await self.form(request, "second_factor")
        if data is None:
            return self.error_page(request, self._csrf_failed(request), 403)
        code = data.get("code", "").strip()
        where = self.where(request, pending.request.client_id)
        refused = await self.throttled_post(request, where, language)
        if refused is not None:
            return refused
        attempt = await run_in_threadpool(
            self.signin.second_factor, session.account_id, code, where
        )
        if attempt.outcome is not Outcome.OK:
            reason = self._failure(language, attempt.outcome, "code", attempt.locked_until)
            errors = [FieldError("code", reason)]
            return self._code_form(request, pending, errors, status_code=400, account=account)
        await run_in_threadpool(self.signin.step_up, cookie, where)
        return _see_other(f"/authorize/continue?auth={pending.id}")

    def can_text(self, account: Account) -> bool:
        """Whether a sign-in code can be texted to the account's proved number."""
        return (
            account.has_sms_factor and self.safeguards is not None and self.safeguards.can_send_sms
        )

    def has_factor(self, account: Account) -> bool:
        """An authenticator app, or a proved mobile number this deployment can text."""
        return account.has_second_factor or self.can_text(account)

    def factor_choices(self, request: Request, account: Account | None) -> dict[str, Any]:
        """What the second-factor page offers: the authenticator's code form, and
        a button to text a code instead (with its own CSRF token)."""
        texts_ok = account is not None and self.can_text(account)
        browser, _ = browser_session(request)
        return {
            "has_totp": account is None or account.has_second_factor,
            "offer_sms": texts_ok,
            "sms_token": self.csrf.issue(browser, "sms_send") if texts_ok else "",
        }

    def _code_form(
        self,
        request: Request,
        pending: Pending,
        errors: list[FieldError],
        status_code: int = 200,
        account: Account | None = None,
    ) -> Response:
        return self.render(
            request,
            "second_factor.html",
            self.language(request, pending.request),
            status_code=status_code,
            purpose="second_factor",
            pending_id=pending.id,
            errors=errors,
            **self.factor_choices(request, account),
        )

    # -- consent ------------------------------------------------------------------

    async def consent_page(self, request: Request) -> Response:
        """The consent page lists what is new for the signed-in account; its form
        carries a digest of who saw what (``_shown``). Allow grants only when the
        same session and account would be granted exactly what was listed: a
        sign-in as someone else in another tab, or a change to what is asked or
        already agreed, shows the page again for the current account instead."""
        pending = await run_in_threadpool(self._pending, request, request.query_params.get("auth"))
        if pending is None:
            return self.error_page(request, self._expired(request))
        session = await run_in_threadpool(self.signin.session, request.cookies.get(SIGNIN_COOKIE))
        if session is None:
            return _see_other(f"/signin?auth={pending.id}")
        req = pending.request
        asked = Disclosure.asked_by(req.scopes, req.claims)
        agency = await run_in_threadpool(self.registry.find_active, req.client_id)
        if agency is None:
            return self.error_page(request, self._expired(request))
        given = await run_in_threadpool(self.consents.given, session.account_id, req.client_id)
        # Only what is new; with nothing new (prompt=consent), all that is asked.
        new = given.missing(asked) or Disclosure().missing(asked)
        shown = _shown(pending, session, new)
        if request.method == "GET":
            return self._consent_form(request, pending, agency, new, shown)
        data = await self.form(request, "consent")
        if data is None:
            return self.error_page(request, self._csrf_failed(request), 403)
        if data.get("decision") != "allow":
            return self.redirect_to_client(
                req, error="access_denied", error_description="the citizen did not consent"
            )
        if not secrets.compare_digest(data.get("shown", ""), shown):
            log.info("consent refused: the page was shown to another session or listed less")
            return self._consent_form(
                request, pending, agency, new, shown, changed=True, status_code=409
            )
        await run_in_threadpool(
            self.consents.grant,
            session.account_id,
            req.client_id,
            asked,
            agency.scopes,
            self.where(request, req.client_id),
        )
        await run_in_threadpool(self.pending.update, pending, consented_sid=session.sid)
        return _see_other(f"/authorize/continue?auth={pending.id}")

    def _consent_form(
        self,
        request: Request,
        pending: Pending,
        agency: Agency,
        new: Disclosure,
        shown: str,
        *,
        changed: bool = False,
        status_code: int = 200,
    ) -> Response:
        req = pending.request
        language = self.language(request, req)
        scopes = [
            (s, self.pages.gettext(language, KNOWN_SCOPES[s]))
            for s in req.scopes
            if s in new.scopes and s in KNOWN_SCOPES
        ]
        claims = [self.pages.gettext(language, CLAIM_LABELS[c]) for c in in_order(new.claims)]
        return self.render(
            request,
            "consent.html",
            language,
            status_code=status_code,
            purpose="consent",
            pending_id=pending.id,
            agency_name=agency.name,
            scopes=scopes,
            claims=claims,
            shown=shown,
            changed=self.pages.gettext(language, texts.CONSENT_CHANGED) if changed else "",
            errors=[],
        )

    # -- logout (RP-initiated, OpenID Connect RP-Initiated Logout 1.0) ------------------

    async def end_session(self, request: Request) -> Response:
        params = await _parameters(request)
        if params is None:
            return self.error_page(request, self._t(request, "This sign-out link is not valid."))
        is_confirmation = request.method == "POST" and "csrf_token" in params
        if is_confirmation and await self.form(request, "logout") is None:
            return self.error_page(request, self._csrf_failed(request), 403)
        hint = params.get("id_token_hint")
        claims = await run_in_threadpool(self._id_token_hint, hint) if hint else None
        if hint and claims is None:
            return self.error_page(request, self._t(request, "This sign-out link is not valid."))
        client_id = params.get("client_id") or (claims or {}).get("aud")
        if claims and params.get("client_id") and params["client_id"] != claims.get("aud"):
            return self.error_page(request, self._t(request, "This sign-out link is not valid."))
        redirect = params.get("post_logout_redirect_uri")
        agency = (
            await run_in_threadpool(self.registry.find_active, client_id)
            if isinstance(client_id, str)
            else None
        )
        if redirect and (agency is None or redirect not in agency.post_logout_redirect_uris):
            return self.error_page(
                request, self._t(request, "The service that sent you here made a mistake.")
            )
        cookie = request.cookies.get(SIGNIN_COOKIE)
        session = await run_in_threadpool(self.signin.session, cookie)
        if session is not None:
            same = claims is not None and claims.get("sid") == session.sid
            if not same and not is_confirmation:
                # Without proof that this client's session is the one to end, ask.
                return self.render(
                    request,
                    "logout_confirm.html",
                    self.language(request),
                    purpose="logout",
                    params={k: v for k, v in params.items() if k != "csrf_token"},
                    agency_name=agency.name if agency else "",
                    errors=[],
                )
            await run_in_threadpool(
                self.logout.end_session,
                session.sid,
                self.where(request, agency.client_id if agency else None),
            )
        if redirect:
            values = {"state": params["state"]} if "state" in params else {}
            response: Response = RedirectResponse(_with_query(redirect, values), status_code=303)
        else:
            response = self.render(request, "signed_out.html", self.language(request))
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    def _id_token_hint(self, token: str) -> dict[str, Any] | None:
        """An ID token we issued (signature and issuer checked; expiry is allowed,
        as the spec expects hints to be old)."""
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys.get(str(header.get("kid")))
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["ES256", "RS256"],
                issuer=self.issuer,
                options={"verify_exp": False, "verify_aud": False, "require": ["aud", "sub"]},
            )
        except jwt.InvalidTokenError:
            return None
        return claims

    # -- messages ---------------------------------------------------------------------

    def _failure(
        self, language: str, outcome: Outcome, factor: str, until: datetime | None = None
    ) -> str:
        """Never says whether the account exists: a locked unknown address reads
        the same as a wrong password. ``until`` is the account's own lock, said
        only to whoever knew the password (second-factor locks grow longer)."""
        if outcome is Outcome.LOCKED:
            template = self.pages.gettext(
                language, "You have tried too many times. Wait %(minutes)d minutes, then try again."
            )
            return template % {"minutes": self._minutes_left(until)}
        if factor == "password":
            return self.pages.gettext(language, "The email address or password is not right")
        return self.pages.gettext(
            language, "Enter the 6-digit code shown in your authenticator app"
        )

    def _minutes_left(self, until: datetime | None) -> int:
        """Whole minutes until ``until``; the configured lock for a lock of wrong
        passwords, or one longer than a day (an operator's)."""
        left = (until - self.clock()) if until is not None else None
        if left is None or not timedelta(0) < left <= _LONGEST_SAID:
            return self.lock_minutes
        return math.ceil(left / timedelta(minutes=1))

    def _t(self, request: Request, message: str) -> str:
        return self.pages.gettext(self.language(request), message)

    def _expired(self, request: Request) -> str:
        return self._t(
            request,
            "This sign-in has expired. Go back to the service you were using and start again.",
        )

    def _csrf_failed(self, request: Request) -> str:
        return self._t(
            request, "This page has expired or the form was sent twice. Please try again."
        )

    def routes(self) -> list[Route]:
        return [
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/authorize/continue", self.resume, methods=["GET"]),
            Route("/signin", self.signin_page, methods=["GET", "POST"]),
            Route("/signin/code", self.second_factor_page, methods=["GET", "POST"]),
            Route("/consent", self.consent_page, methods=["GET", "POST"]),
            Route("/logout", self.end_session, methods=["GET", "POST"]),
        ]


async def _parameters(request: Request) -> dict[str, str] | None:
    """Query (GET) or form (POST) parameters; a repeated parameter is invalid
    (RFC 6749 §3.1)."""
    if request.method == "POST":
        items = list((await request.form()).multi_items())
    else:
        items = list(request.query_params.multi_items())
    params: dict[str, str] = {}
    for key, value in items:
        if not isinstance(value, str) or key in params:
            return None
        params[key] = value
    return params


def _with_query(uri: str, values: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query and values else "") + urlencode(values)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _shown(pending: Pending, session: BrowserSession, new: Disclosure) -> str:
    """A digest of one consent page: the pending request, the session and account
    it was shown to, and what it listed. Allow counts only if it is unchanged."""
    listed = [
        pending.id,
        session.sid,
        session.account_id,
        sorted(new.scopes),
        sorted(new.claims),
    ]
    return hashlib.sha256(json.dumps(listed).encode()).hexdigest()


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)
