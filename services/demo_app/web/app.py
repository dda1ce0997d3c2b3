"""The demo app's pages and its payments webhook.

Routes:
- ``GET  /``                            start page
- ``GET  /signin``, ``GET /callback``   sign-in through identity (code flow + PKCE)
- ``POST /signout``                     forget the session, then identity's logout
- ``GET|POST /apply``                   the application form; POST creates the payment
- ``GET  /applications/{id}``           where the application is (refreshes while waiting)
- ``GET  /applications/{id}/return``    where the payment page sends the citizen back
- ``GET  /applications/{id}/timeline``  signed in, paid, notified: the platform's records
- ``GET  /received``                    what the resident received (local sinks)
- ``POST /webhooks/payments``           payments' signed events
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from gaap_client import SIGNATURE_HEADER, InvalidSignature, SignInError, verify_signature
from gaap_client.errors import GaapError
from services.demo_app.domain.applications import State
from services.demo_app.service_layer import sinks
from services.demo_app.service_layer.journey import Citizen, Journey, money
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.http import build_app
from services.runtime.pages import CsrfTokens, FieldError, Pages, choose_language
from services.runtime.pages.render import LANGUAGE_COOKIE, set_language_cookie

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
COOKIE = "demo_app_session"
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文"}
MAX_WEBHOOK_BYTES = 256 * 1024
REFRESH_SECONDS = 2
FORM_FIELDS = ("full-name", "email", "phone", "vehicle", "postcode")
Handler = Callable[[Request, Mapping[str, str]], Response]


@dataclass(frozen=True)
class Sinks:
    mail: Path
    sms: Path


class DemoPages:
    def __init__(
        self,
        journey: Journey,
        csrf: CsrfTokens,
        sinks_dirs: Sinks,
        identity_logout_url: str,
    ) -> None:
        self.journey = journey
        self.csrf = csrf
        self.sinks = sinks_dirs
        self.logout_url = identity_logout_url
        self.pages = Pages(HERE / "templates", HERE / "locales")
        self.secure = journey.public_url.startswith("https://")

    # -- pages ------------------------------------------------------------------------

    def start(self, request: Request, form: Mapping[str, str]) -> Response:
        citizen = self._citizen(request)
        applications = self.journey.applications(citizen) if citizen else []
        return self._render(request, "start.html", citizen=citizen, applications=applications)

    def sign_in(self, request: Request, form: Mapping[str, str]) -> Response:
        cookie = self._cookie(request) or secrets.token_urlsafe(32)
        url = self.journey.start_sign_in(
            cookie, self._language(request), request.query_params.get("next", "/apply")
        )
        response = RedirectResponse(url, status_code=303)
        self._set_cookie(response, cookie)
        return response

    def callback(self, request: Request, form: Mapping[str, str]) -> Response:
        cookie = self._cookie(request)
        try:
            next_path = self.journey.finish_sign_in(cookie, dict(request.query_params))
        except SignInError as exc:
            log.info("sign-in failed", extra={"error": exc.error})
            message = "You did not finish signing in. Please try again."
            if exc.error == "access_denied":
                message = "You chose not to share your details, so you cannot apply online."
            return self._render(request, "problem.html", status=400, message=message)
        return RedirectResponse(next_path, status_code=303)

    def sign_out(self, request: Request, form: Mapping[str, str]) -> Response:
        cookie = self._cookie(request)
        if not self.csrf.check(cookie, "signout", form.get("csrf_token", "")):
            return self._stale(request)
        id_token = self.journey.sign_out(cookie)
        target = "/"
        if id_token:
            query = urlencode(
                {
                    "id_token_hint": id_token,
                    "post_logout_redirect_uri": self.journey.public_url + "/",
                }
            )
            target = f"{self.logout_url}?{query}"
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    def apply(self, request: Request, form: Mapping[str, str]) -> Response:
        citizen = self._citizen(request)
        if citizen is None:
            return RedirectResponse("/signin?next=/apply", status_code=303)
        language = self._language(request)
        if request.method == "GET":
            values = {
                "full-name": citizen.name,
                "email": str(citizen.claims.get("email", "")),
                "phone": _national(str(citizen.claims.get("phone_number", ""))),
            }
            return self._form(request, values=values)
        if not self.csrf.check(self._cookie(request), "apply", form.get("csrf_token", "")):
            return self._stale(request)
        raw = {k: str(form.get(k, "")) for k in FORM_FIELDS}
        try:
            application = self.journey.apply(citizen, raw, language)
        except InvalidArgument as exc:
            errors = [
                FieldError(v.field, self.pages.gettext(language, v.description))
                for v in exc.violations
            ]
            return self._form(request, values=raw, errors=errors, status=400)
        return RedirectResponse(application.next_url, status_code=303)

    def application(self, request: Request, form: Mapping[str, str]) -> Response:
        citizen = self._citizen(request)
        if citizen is None:
            return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
        found = self.journey.application(citizen, str(request.path_params["id"]))
        waiting = found.state in (State.AWAITING_PAYMENT, State.PAID)
        response = self._render(
            request,
            "application.html",
            citizen=citizen,
            application=found,
            fee=money(found.amount, found.currency, self._language(request)),
        )
        if waiting:
            # No JavaScript: the browser asks again until payments' webhook has arrived.
            response.headers["refresh"] = str(REFRESH_SECONDS)
        return response

    def returned(self, request: Request, form: Mapping[str, str]) -> Response:
        # Coming back proves nothing: the page shows what the webhook established.
        return RedirectResponse(f"/applications/{request.path_params['id']}", status_code=303)

    def timeline(self, request: Request, form: Mapping[str, str]) -> Response:
        citizen = self._citizen(request)
        if citizen is None:
            return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
        found = self.journey.application(citizen, str(request.path_params["id"]))
        entries = self.journey.timeline(found)
        return self._render(
            request, "timeline.html", citizen=citizen, application=found, entries=entries
        )

    def received(self, request: Request, form: Mapping[str, str]) -> Response:
        citizen = self._citizen(request)
        if citizen is None:
            return RedirectResponse("/signin?next=/received", status_code=303)
        applications = self.journey.applications(citizen)
        emails = {str(citizen.claims.get("email", "")).lower()} | {
            a.form.email.lower() for a in applications
        }
        phones = {sinks.e164(str(citizen.claims.get("phone_number", "")))} | {
            sinks.e164(a.form.phone) for a in applications
        }
        messages = sinks.read_mail(self.sinks.mail, emails) + sinks.read_sms(self.sinks.sms, phones)
        messages.sort(key=lambda m: m.time, reverse=True)
        return self._render(request, "received.html", citizen=citizen, messages=messages)

    # -- rendering ---------------------------------------------------------------------

    def _form(
        self,
        request: Request,
        *,
        values: Mapping[str, str],
        errors: Sequence[FieldError] = (),
        status: int = 200,
    ) -> Response:
        language = self._language(request)
        return self._render(
            request,
            "apply.html",
            status=status,
            values=dict(values),
            errors=list(errors),
            citizen=self._citizen(request),
            fee=money(self.journey.fee, self.journey.currency, language),
            csrf_token=self.csrf.issue(self._cookie(request), "apply"),
        )

    def _render(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> Response:
        language = self._language(request)
        context.setdefault("errors", [])
        context.setdefault("citizen", None)
        cookie = self._cookie(request)
        response = self.pages.render(
            template,
            language,
            status_code=status,
            language_links=[
                (
                    tag,
                    LANGUAGE_NAMES.get(tag, tag),
                    f"{request.url.path}?{urlencode({'lang': tag})}",
                )
                for tag in self.pages.languages
            ],
            signout_token=self.csrf.issue(cookie, "signout") if cookie else "",
            **context,
        )
        explicit = request.query_params.get("lang")
        if explicit in self.pages.languages:
            set_language_cookie(response, explicit, secure=self.secure)
        return response

    def _stale(self, request: Request) -> Response:
        message = "This page has expired or the form was sent twice. Please try again."
        return self._render(request, "problem.html", status=400, message=message)

    def not_found(self, request: Request) -> Response:
        return self._render(request, "problem.html", status=404, message="Page not found")

    def _language(self, request: Request) -> str:
        return choose_language(
            self.pages.languages,
            explicit=request.query_params.get("lang"),
            cookie=request.cookies.get(LANGUAGE_COOKIE),
            accept_language=request.headers.get("accept-language"),
        )

    def _citizen(self, request: Request) -> Citizen | None:
        return self.journey.citizen(self._cookie(request))

    @staticmethod
    def _cookie(request: Request) -> str:
        value = request.cookies.get(COOKIE, "")
        return value if 30 <= len(value) <= 64 else ""

    def _set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            COOKIE, value, httponly=True, samesite="lax", secure=self.secure, path="/"
        )


def _national(phone: str) -> str:
    """+447700900123 -> 07700 900123, as a UK resident would type it."""
    if phone.startswith("+44") and len(phone) == 13:
        return f"0{phone[3:7]} {phone[7:]}"
    return phone


def payments_webhook(
    journey: Journey, signing_secrets: Callable[[], list[str]]
) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        body = await request.body()  # at most MAX_WEBHOOK_BYTES (BodyLimit)
        try:
            verify_signature(signing_secrets(), request.headers.get(SIGNATURE_HEADER, ""), body)
        except InvalidSignature:
            return PlainTextResponse("invalid signature", status_code=400)
        try:
            event = json.loads(body)
            # The id inside the signed body: a header is not signed, and a replay
            # with a fresh one would otherwise pass as a new event.
            event_id = event["id"]
            if not isinstance(event_id, str) or not event_id:
                raise TypeError(event_id)
        except (ValueError, KeyError, TypeError):
            return PlainTextResponse("not a payment event", status_code=400)
        try:
            await run_in_threadpool(journey.payment_event, event_id, event)
        except GaapError as exc:
            # payments retries until we answer 2xx; every step is idempotent.
            log.warning(
                "payment event not handled yet",
                extra={
                    "status": exc.status.name,
                    "fields": [v.field for v in exc.field_violations],
                    "error": exc.message,
                },
            )
            return PlainTextResponse("try again later", status_code=503)
        return PlainTextResponse("ok")

    return receive


def create_app(
    pages: DemoPages, signing_secrets: Callable[[], list[str]]
) -> Callable[[Callable[[], bool]], ASGIApp]:
    def handle(request: Request, form: Mapping[str, str], handler: Handler) -> Response:
        try:
            return handler(request, form)
        except NotFound:
            return pages.not_found(request)
        except GaapError as exc:
            log.warning("platform call failed", extra={"status": exc.status.name})
            return pages._render(
                request,
                "problem.html",
                status=503,
                message="Sorry, the service is unavailable. Please try again later.",
            )

    def route(path: str, handler: Handler, methods: Sequence[str] = ("GET",)) -> Route:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                async with request.form(max_files=0, max_fields=20) as data:
                    form = {k: v for k, v in data.items() if isinstance(v, str)}
            return await run_in_threadpool(handle, request, form, handler)

        return Route(path, endpoint, methods=list(methods))

    routes = [
        route("/", pages.start),
        route("/signin", pages.sign_in),
        route("/callback", pages.callback),
        route("/signout", pages.sign_out, ["POST"]),
        route("/apply", pages.apply, ["GET", "POST"]),
        route("/applications/{id}", pages.application),
        route("/applications/{id}/return", pages.returned),
        route("/applications/{id}/timeline", pages.timeline),
        route("/received", pages.received),
        Route(
            "/webhooks/payments",
            payments_webhook(pages.journey, signing_secrets),
            methods=["POST"],
        ),
    ]
    limits = {"/webhooks/payments": MAX_WEBHOOK_BYTES}
    return lambda ready: build_app(routes, ready=ready, body_limits=limits)
