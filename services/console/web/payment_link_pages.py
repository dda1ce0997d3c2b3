"""Payment links: the team's pages, and the public page citizens pay through.

- ``GET  /teams/{team_id}/payment-links``                    the team's links
- ``GET|POST /teams/{team_id}/payment-links/new``            make one
- ``GET  /teams/{team_id}/payment-links/{link_id}``          one link and its payments
- ``POST /teams/{team_id}/payment-links/{link_id}/pause|resume``
- ``GET|POST /pay/{slug}``                                   the public page (no sign-in)
- ``GET  /pay/{slug}/done/{form_key}``                       back from paying: thanks, and the state

The public form has no session to tie a CSRF token to, so ``GET /pay/{slug}``
sets a cookie of its own (``console_pay``: random, HttpOnly, SameSite=Lax) and
signs the form's token with it, for the form's path and its key; a form posted
from another site carries no cookie and is refused. The form's key (random, one
per form shown) is also the payment's idempotency key's source, so sending the
form twice takes one payment. A paused link answers 410 with the message.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gaap_client import TokenError
from gaap_client.errors import GaapError
from services.console.domain.payment_links import (
    CURRENCIES,
    Characters,
    LinkForm,
    PaymentLink,
    State,
)
from services.console.domain.roles import Action
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.payment_links import (
    LinkPaused,
    PaymentLinks,
    PublicPaymentLinks,
)
from services.console.web.base import ConsoleWeb, Form
from services.console.web.payment_pages import STATE_OF, money
from services.runtime.clock import utcnow
from services.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from services.runtime.pages import FieldError

log = logging.getLogger(__name__)
PAY_COOKIE = "console_pay"
FORM_KEY_BYTES = 24


def link_form(form: Form) -> LinkForm:
    return LinkForm(
        title=form.get("title", ""),
        description=form.get("description", ""),
        currency=form.get("currency", "GBP"),
        amount_type=form.get("amount_type", ""),
        amount=form.get("amount", ""),
        min_amount=form.get("min_amount", ""),
        max_amount=form.get("max_amount", ""),
        reference_label=form.get("reference_label", ""),
        reference_required=form.get("reference_required") == "yes",
        reference_max_length=form.get("reference_max_length", ""),
        reference_characters=form.get("reference_characters", ""),
        return_url=form.get("return_url", ""),
    )


class PaymentLinkPages:
    def __init__(self, web: ConsoleWeb, links: PaymentLinks, public: PublicPaymentLinks) -> None:
        self.web = web
        self.links = links
        self.public = public

    def public_url(self, link: PaymentLink) -> str:
        return f"{self.web.public_url}/pay/{link.slug}"

    def amount_text(self, request: Request, link: PaymentLink) -> str:
        language = self.web.language(request)
        if link.fixed_amount is not None:
            return money(link.fixed_amount, link.currency, language)
        assert link.min_amount is not None
        assert link.max_amount is not None
        return self.web.gettext(request, "%(low)s to %(high)s") % {
            "low": money(link.min_amount, link.currency, language),
            "high": money(link.max_amount, link.currency, language),
        }

    # -- staff --------------------------------------------------------------------------

    def index(self, request: Request, form: Form, access: TeamAccess) -> Response:
        links = self.links.of_team(access.staff, access.team.id)
        return self.web.render(
            request,
            "payment_links.html",
            access=access,
            links=links,
            amount_of=lambda link: self.amount_text(request, link),
            can_manage=access.may(Action.MANAGE_PAYMENT_LINKS),
        )

    def new(self, request: Request, form: Form, access: TeamAccess) -> Response:
        values = link_form(form) if request.method == "POST" else LinkForm()
        errors: list[FieldError] = []
        if request.method == "POST":
            try:
                link = self.links.create(access.staff, access.team.id, values)
            except InvalidArgument as exc:
                errors = self.web.field_errors(request, exc)
            else:
                return RedirectResponse(
                    f"/teams/{access.team.id}/payment-links/{link.id}", status_code=303
                )
        return self.web.render(
            request,
            "payment_link_new.html",
            status=400 if errors else 200,
            access=access,
            errors=errors,
            values=values,
            currencies=tuple(CURRENCIES),
            characters=tuple(Characters),
        )

    def show(self, request: Request, form: Form, access: TeamAccess) -> Response:
        page = self.links.show(access.staff, access.team.id, str(request.path_params["link_id"]))
        language = self.web.language(request)
        return self.web.render(
            request,
            "payment_link.html",
            access=access,
            link=page.link,
            url=self.public_url(page.link),
            amount=self.amount_text(request, page.link),
            payments=page.payments,
            money=lambda amount, currency: money(amount, currency, language),
            state_of=STATE_OF,
            can_manage=access.may(Action.MANAGE_PAYMENT_LINKS),
        )

    def state_setter(self, state: State) -> Callable[[Request, Form, TeamAccess], Response]:
        def set_state(request: Request, form: Form, access: TeamAccess) -> Response:
            link_id = str(request.path_params["link_id"])
            self.links.set_state(access.staff, access.team.id, link_id, state)
            return RedirectResponse(
                f"/teams/{access.team.id}/payment-links/{link_id}", status_code=303
            )

        return set_state

    # -- citizens -----------------------------------------------------------------------

    def pay_page(
        self,
        request: Request,
        slug: str,
        *,
        form: Form | None = None,
        errors: list[FieldError] | None = None,
    ) -> Response:
        found = self.public.find(slug)
        link = found.link
        if not link.active:
            return self.paused(request, link, found.team.name)
        cookie = request.cookies.get(PAY_COOKIE) or secrets.token_urlsafe(32)
        form_key = secrets.token_urlsafe(FORM_KEY_BYTES)
        response = self.web.render(
            request,
            "pay.html",
            status=400 if errors else 200,
            staff=None,
            errors=errors or [],
            link=link,
            team_name=found.team.name,
            amount=self.amount_text(request, link),
            values=form or {},
            form_key=form_key,
            form_token=self.web.csrf.issue(cookie, f"/pay/{slug}\0{form_key}"),
        )
        if PAY_COOKIE not in request.cookies:
            response.set_cookie(
                PAY_COOKIE,
                cookie,
                httponly=True,
                samesite="lax",
                secure=self.web.secure,
                path="/pay",
            )
        return response

    def paused(self, request: Request, link: PaymentLink, team_name: str) -> Response:
        return self.web.render(
            request, "pay_paused.html", status=410, staff=None, link=link, team_name=team_name
        )

    def pay_get(self, request: Request) -> Response:
        return self.pay_page(request, str(request.path_params["slug"]))

    def pay_post(self, request: Request, form: Form) -> Response:
        slug = str(request.path_params["slug"])
        form_key = form.get("form_key", "")
        if not form_key or not self.web.csrf.check(
            request.cookies.get(PAY_COOKIE, ""),
            f"/pay/{slug}\0{form_key}",
            form.get("csrf_token", ""),
        ):
            return self.web.problem(
                request, 400, "This page has expired or the form was sent twice. Please try again."
            )
        try:
            next_url = self.public.pay(
                slug,
                form_key,
                form.get("amount", ""),
                form.get("reference", ""),
                language=self.web.language(request),
                client=request.client.host if request.client else "",
            )
        except InvalidArgument as exc:
            return self.pay_page(
                request, slug, form=form, errors=self.web.field_errors(request, exc)
            )
        except LinkPaused as exc:
            return self.paused(request, exc.link, self.public.find(slug).team.name)
        except ResourceExhausted as exc:
            response = self.web.problem(
                request,
                429,
                "You have started too many payments. Please wait a minute and try again.",
            )
            response.headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
            return response
        return RedirectResponse(next_url, status_code=303)

    def done(self, request: Request) -> Response:
        found, payment = self.public.returned(
            str(request.path_params["slug"]), str(request.path_params["form_key"])
        )
        language = self.web.language(request)
        return self.web.render(
            request,
            "pay_done.html",
            staff=None,
            link=found.link,
            team_name=found.team.name,
            payment=payment,
            state=STATE_OF.get(payment.state, "") if payment else "",
            paid=money(payment.amount, payment.currency, language) if payment else "",
        )

    # -- the public routes' errors (no session, so not ConsoleWeb's guard) ---------------

    def guarded(self, request: Request, run: Callable[[], Response]) -> Response:
        try:
            return run()
        except NotFound:
            return self.web.problem(request, 404, "Page not found")
        except FailedPrecondition as exc:
            return self.web.problem(request, 409, exc.message)
        except (GaapError, TokenError) as exc:
            log.warning("payment link: platform call failed", extra={"error": type(exc).__name__})
            return self.web.problem(
                request, 503, "Sorry, the service is unavailable. Please try again later."
            )


def payment_link_routes(web: ConsoleWeb) -> list[BaseRoute]:
    links = PaymentLinks(web.acting, utcnow)
    public = PublicPaymentLinks(
        web.acting.transactions, web.acting.agency_calls, web.limiter, web.public_url, utcnow
    )
    pages = PaymentLinkPages(web, links, public)
    base = "/teams/{team_id}/payment-links"

    async def pay(request: Request) -> Response:
        if request.method == "POST":
            async with request.form(max_files=0, max_fields=10) as data:
                form = {k: v for k, v in data.items() if isinstance(v, str)}
            return await run_in_threadpool(
                pages.guarded, request, lambda: pages.pay_post(request, form)
            )
        return await run_in_threadpool(pages.guarded, request, lambda: pages.pay_get(request))

    async def done(request: Request) -> Response:
        return await run_in_threadpool(pages.guarded, request, lambda: pages.done(request))

    return [
        web.team(base, Action.VIEW_PAYMENTS, pages.index),
        web.team(base + "/new", Action.MANAGE_PAYMENT_LINKS, pages.new, ("GET", "POST")),
        web.team(base + "/{link_id}", Action.VIEW_PAYMENTS, pages.show),
        web.team(
            base + "/{link_id}/pause",
            Action.MANAGE_PAYMENT_LINKS,
            pages.state_setter(State.PAUSED),
            ("POST",),
        ),
        web.team(
            base + "/{link_id}/resume",
            Action.MANAGE_PAYMENT_LINKS,
            pages.state_setter(State.ACTIVE),
            ("POST",),
        ),
        Route("/pay/{slug}", pay, methods=["GET", "POST"]),
        Route("/pay/{slug}/done/{form_key}", done, methods=["GET"]),
    ]
