"""payments' HTTP side: the hosted payment page and Stripe's webhooks.

Routes (all under ``PAYMENTS_PUBLIC_URL``):
- ``GET  /pay/{token}``          the page for the payment's current step
- ``POST /pay/{token}/card``     card details (then the confirm step)
- ``POST /pay/{token}/confirm``  confirm; then back to the agency's return_url
- ``GET|POST /pay/{token}/cancel`` the citizen cancels
- ``POST /webhooks/stripe``      Stripe events, signature-checked
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from services.payments.domain import money
from services.payments.domain.cards import parse_card
from services.payments.domain.payments import Payment, State
from services.payments.service_layer.checkout import Checkout
from services.payments.service_layer.page_links import PageLinks
from services.payments.service_layer.stripe_events import StripeEvents
from services.runtime import webhook_signing
from services.runtime.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound
from services.runtime.http import build_app
from services.runtime.pages import CsrfTokens, FieldError, Pages, browser_session, choose_language
from services.runtime.pages.render import (
    LANGUAGE_COOKIE,
    set_language_cookie,
    set_session_cookie,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
Handler = Callable[[Request, Mapping[str, str]], Response]
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文"}
MAX_WEBHOOK_BYTES = 512 * 1024
STRIPE_SIGNATURE = "Stripe-Signature"
STRIPE_TOLERANCE = 300


class PaymentPages:
    def __init__(
        self,
        checkout: Checkout,
        links: PageLinks,
        csrf: CsrfTokens,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._checkout = checkout
        self._links = links
        self._csrf = csrf
        self._today = today
        self._secure = links.public_url.startswith("https://")
        self.pages = Pages(HERE / "templates", HERE / "locales")

    # -- routes ----------------------------------------------------------------

    def show(self, request: Request, form: Mapping[str, str]) -> Response:
        payment_id = self._payment_id(request)
        if payment_id is None:
            return self._not_found(request)
        payment = self._checkout.open(payment_id)
        return self._step(request, payment)

    def card(self, request: Request, form: Mapping[str, str]) -> Response:
        payment_id = self._payment_id(request)
        if payment_id is None:
            return self._not_found(request)
        fields = {
            k: str(form.get(k, ""))
            for k in ("card-number", "expiry", "security-code", "cardholder-name")
        }
        session, _ = browser_session(request)
        if not self._csrf.check(session, f"card:{payment_id}", str(form.get("csrf_token", ""))):
            return self._stale_form(request, payment_id)
        try:
            card = parse_card(
                number=fields["card-number"],
                expiry=fields["expiry"],
                security_code=fields["security-code"],
                cardholder_name=fields["cardholder-name"],
                today=self._today(),
            )
        except InvalidArgument as exc:
            payment = self._checkout.open(payment_id)
            language = self._language(request, payment)
            errors = [
                FieldError(v.field, self.pages.gettext(language, v.description))
                for v in exc.violations
            ]
            # Echo back what is safe to show again: never the number or the code.
            values = {"expiry": fields["expiry"], "cardholder-name": fields["cardholder-name"]}
            return self._card_form(request, payment, errors=errors, values=values, status=400)
        try:
            payment = self._checkout.submit(payment_id, card)
        except FailedPrecondition:
            payment = self._checkout.open(payment_id)
        return self._redirect_to_step(payment_id)

    def confirm(self, request: Request, form: Mapping[str, str]) -> Response:
        payment_id = self._payment_id(request)
        if payment_id is None:
            return self._not_found(request)
        session, _ = browser_session(request)
        if not self._csrf.check(session, f"confirm:{payment_id}", str(form.get("csrf_token", ""))):
            return self._stale_form(request, payment_id)
        try:
            payment = self._checkout.confirm(payment_id)
        except FailedPrecondition:
            return self._redirect_to_step(payment_id)
        if payment.state in (State.SUCCESS, State.CAPTURABLE):
            return RedirectResponse(payment.return_url, status_code=303)
        return self._redirect_to_step(payment_id)

    def cancel(self, request: Request, form: Mapping[str, str]) -> Response:
        payment_id = self._payment_id(request)
        if payment_id is None:
            return self._not_found(request)
        payment = self._checkout.open(payment_id)
        if request.method == "GET":
            if payment.finished or payment.state is State.CAPTURABLE:
                return self._step(request, payment)
            return self._render(request, payment, "cancel.html", form="cancel")
        session, _ = browser_session(request)
        if not self._csrf.check(session, f"cancel:{payment_id}", str(form.get("csrf_token", ""))):
            return self._stale_form(request, payment_id)
        payment = self._checkout.cancel(payment_id)
        return RedirectResponse(payment.return_url, status_code=303)

    # -- rendering ---------------------------------------------------------------

    def _step(self, request: Request, payment: Payment) -> Response:
        if payment.state is State.STARTED:
            return self._card_form(request, payment)
        if payment.state is State.SUBMITTED and payment.authorised_at is not None:
            return self._render(request, payment, "confirm.html", form="confirm")
        if payment.state is State.SUBMITTED:
            return self._render(request, payment, "checking.html")
        return self._render(request, payment, "finished.html")

    def _card_form(
        self,
        request: Request,
        payment: Payment,
        *,
        errors: Sequence[FieldError] = (),
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        return self._render(
            request,
            payment,
            "card.html",
            form="card",
            errors=list(errors),
            values=values or {},
            status=status,
        )

    def _render(
        self,
        request: Request,
        payment: Payment,
        template: str,
        *,
        form: str = "",
        status: int = 200,
        errors: Sequence[FieldError] = (),
        **context: Any,
    ) -> Response:
        language = self._language(request, payment)
        session, new_session = browser_session(request)
        token = self._links.token(payment.id)
        response = self.pages.render(
            template,
            language,
            status_code=status,
            payment=payment,
            agency_name=payment.agency_name,
            amount=(money.major_units(payment.amount, payment.currency), payment.currency),
            page_url=f"/pay/{token}",
            csrf_token=self._csrf.issue(session, f"{form}:{payment.id}") if form else "",
            errors=list(errors),
            language_links=self._language_links(request),
            **context,
        )
        if new_session:
            set_session_cookie(response, session, secure=self._secure)
        explicit = request.query_params.get("lang")
        if explicit in self.pages.languages:
            set_language_cookie(response, explicit, secure=self._secure)
        return response

    def _language(self, request: Request, payment: Payment | None) -> str:
        return choose_language(
            self.pages.languages,
            explicit=request.query_params.get("lang"),
            cookie=request.cookies.get(LANGUAGE_COOKIE),
            hint=payment.language if payment else None,
            accept_language=request.headers.get("accept-language"),
        )

    def _language_links(self, request: Request) -> list[tuple[str, str, str]]:
        return [
            (tag, LANGUAGE_NAMES.get(tag, tag), f"{request.url.path}?{urlencode({'lang': tag})}")
            for tag in self.pages.languages
        ]

    def _payment_id(self, request: Request) -> str | None:
        return self._links.payment_id(str(request.path_params["token"]))

    def _redirect_to_step(self, payment_id: str) -> Response:
        return RedirectResponse(f"/pay/{self._links.token(payment_id)}", status_code=303)

    def _stale_form(self, request: Request, payment_id: str) -> Response:
        payment = self._checkout.open(payment_id)
        language = self._language(request, payment)
        message = self.pages.gettext(
            language, "This page has expired or the form was sent twice. Please try again."
        )
        return self._render(request, payment, "stale.html", status=400, message=message)

    def _not_found(self, request: Request) -> Response:
        language = self._language(request, None)
        return self.pages.render(
            "not_found.html", language, status_code=404, language_links=[], errors=[]
        )


def stripe_webhook(events: StripeEvents, secrets: Sequence[str]) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        if not secrets:
            return PlainTextResponse("Stripe webhooks are not configured", status_code=404)
        body = await request.body()  # at most MAX_WEBHOOK_BYTES (BodyLimit)
        header = request.headers.get(STRIPE_SIGNATURE, "")
        if not any(
            webhook_signing.verify(secret, header, body, tolerance=STRIPE_TOLERANCE)
            for secret in secrets
        ):
            return PlainTextResponse("invalid signature", status_code=400)
        try:
            event = json.loads(body)
            applied = await run_in_threadpool(events.apply, event)
        except (ValueError, AttributeError, TypeError):
            return PlainTextResponse("not a Stripe event", status_code=400)
        log.info("stripe event", extra={"event_type": event.get("type"), "duplicate": not applied})
        return PlainTextResponse("ok")

    return receive


def create_app(
    pages: PaymentPages, stripe_events: StripeEvents, stripe_secrets: Sequence[str]
) -> Callable[[Callable[[], bool]], ASGIApp]:
    def handle(request: Request, form: Mapping[str, str], handler: Handler) -> Response:
        # Sync on purpose: the service layer blocks on the database, so this runs
        # in Starlette's thread pool rather than on the event loop.
        try:
            return handler(request, form)
        except NotFound:
            return pages._not_found(request)
        except DomainError as exc:
            log.warning("payment page error", extra={"error": type(exc).__name__})
            return PlainTextResponse("The payment service is unavailable; try again.", 503)

    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                async with request.form(max_files=0, max_fields=20) as data:
                    form = {k: v for k, v in data.items() if isinstance(v, str)}
            return await run_in_threadpool(handle, request, form, handler)

        return Route(path, endpoint, methods=methods)

    routes = [
        route("/pay/{token}", pages.show, ["GET"]),
        route("/pay/{token}/card", pages.card, ["POST"]),
        route("/pay/{token}/confirm", pages.confirm, ["POST"]),
        route("/pay/{token}/cancel", pages.cancel, ["GET", "POST"]),
        Route("/webhooks/stripe", stripe_webhook(stripe_events, stripe_secrets), methods=["POST"]),
    ]
    limits = {"/webhooks/stripe": MAX_WEBHOOK_BYTES}
    return lambda ready: build_app(routes, ready=ready, body_limits=limits)
