"""A team's payments: the transactions with filters and a CSV export, one payment
with its timeline and refunds, and refunding it after a confirmation step.

- ``GET  /teams/{team_id}/payments``                       the list (filters in the query)
- ``GET  /teams/{team_id}/payments/export``                 the filtered list as CSV
- ``GET  /teams/{team_id}/payments/{payment_id}``           one payment
- ``POST /teams/{team_id}/payments/{payment_id}/refund``    confirm, then refund (refunders)
- ``GET  /teams/{team_id}/payments/reconciliation[/export]`` the report for a range, as CSV
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

from babel.numbers import format_currency, get_currency_precision
from gaap.payments.v1 import payments_pb2 as pb
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

from gaap_client.errors import GaapError
from services.console.domain.roles import Action
from services.console.service_layer.access import TeamAccess
from services.console.service_layer.payments_console import (
    EXPORT_CAP,
    STATES,
    Capped,
    PaymentsConsole,
    check_filters,
    check_period,
    parse_amount,
)
from services.console.web.base import ConsoleWeb, Form
from services.runtime.clock import utcnow
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.pages import FieldError

LOCALES = {"en": "en_GB", "zh-Hans": "zh_Hans_CN"}
STATE_OF = {number: name for name, number in STATES.items()}
FILTERS = ("state", "reference", "email", "created_from", "created_to", "card_last_four")
# A cell a spreadsheet would run as a formula starts with one of these: it gets a '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id",
    "created (UTC)",
    "reference",
    "description",
    "email",
    "state",
    "amount",
    "currency",
    "captured",
    "refundable",
    "card brand",
    "card last four",
)


REPORT_COLUMNS = (
    "time (UTC)",
    "kind",
    "payment id",
    "refund id",
    "reference",
    "amount",
    "currency",
)
R = TypeVar("R")
log = logging.getLogger(__name__)


def minor_to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-get_currency_precision(currency))


def money(amount: int, currency: str, language: str) -> str:
    """``amount`` minor units in ``currency`` as the page's language writes it."""
    if not currency:
        return str(amount)
    return str(
        format_currency(
            minor_to_major(amount, currency), currency, locale=LOCALES.get(language, "en_GB")
        )
    )


def csv_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv(
    header: tuple[str, ...], rows: Iterable[R], cells: Callable[[R], tuple[str, ...]]
) -> Iterator[str]:
    """A CSV file line by line; its last line says so when it is not whole (the
    cap reached, or payments failing midway), as the status is already sent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: tuple[str, ...]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(v) for v in values])
        return buffer.getvalue()

    yield line(header)
    try:
        for row in rows:
            yield line(cells(row))
    except GaapError as exc:
        log.warning("export stopped", extra={"status": exc.status.name})
        yield line(("The service stopped answering: this file is incomplete. Try again.",))
        return
    if isinstance(rows, Capped) and rows.truncated:
        yield line((f"More than {EXPORT_CAP} rows: this file stops there. Narrow the range.",))


def _payment_cells(p: pb.Payment) -> tuple[str, ...]:
    return (
        p.id,
        p.create_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"),
        p.reference,
        p.description,
        p.email,
        STATE_OF.get(p.state, ""),
        str(minor_to_major(p.amount, p.currency)),
        p.currency,
        str(minor_to_major(p.captured_amount, p.currency)),
        str(minor_to_major(p.refundable_amount, p.currency)),
        p.card.brand,
        p.card.last_four,
    )


def csv_lines(payments: Iterable[pb.Payment]) -> Iterator[str]:
    return _csv(CSV_COLUMNS, payments, _payment_cells)


def report_lines(lines: Iterable[pb.ReconciliationLine], currency: str) -> Iterator[str]:
    def cells(r: pb.ReconciliationLine) -> tuple[str, ...]:
        return (
            r.time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"),
            r.kind,
            r.payment_id,
            r.refund_id,
            r.reference,
            str(minor_to_major(r.amount, currency)),
            currency,
        )

    return _csv(REPORT_COLUMNS, lines, cells)


class PaymentPages:
    def __init__(self, web: ConsoleWeb) -> None:
        self.web = web
        self.payments = PaymentsConsole(web.acting, utcnow)

    def _render(self, request: Request, template: str, **context: Any) -> Response:
        language = self.web.language(request)
        return self.web.render(
            request,
            template,
            money=lambda amount, currency: money(amount, currency, language),
            state_of=STATE_OF,
            **context,
        )

    # -- the list and its export ----------------------------------------------------------

    def transactions(self, request: Request, form: Form, access: TeamAccess) -> Response:
        values = {name: request.query_params.get(name, "") for name in FILTERS}
        query = {k: v for k, v in values.items() if v}
        try:
            filters = check_filters(**values)
            page = self.payments.transactions(
                access.staff, access.team.id, filters, request.query_params.get("page", "")
            )
        except InvalidArgument as exc:
            return self._render(
                request,
                "payments_list.html",
                status=400,
                access=access,
                values=values,
                errors=self.web.field_errors(request, exc),
                payments=[],
                next_query=None,
                export_query=None,
                states=tuple(STATES),
            )
        return self._render(
            request,
            "payments_list.html",
            access=access,
            values=values,
            payments=page.payments,
            next_query={**query, "page": page.next_page_token} if page.next_page_token else None,
            export_query=query,
            states=tuple(STATES),
        )

    def export(self, request: Request, form: Form, access: TeamAccess) -> Response:
        values = {name: request.query_params.get(name, "") for name in FILTERS}
        rows = self.payments.export(access.staff, access.team.id, check_filters(**values))
        return StreamingResponse(
            csv_lines(rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="payments.csv"'},
        )

    # -- the reconciliation report -------------------------------------------------------

    def reconciliation(self, request: Request, form: Form, access: TeamAccess) -> Response:
        values = {k: request.query_params.get(k, "") for k in ("start", "end", "currency")}
        if not values["start"] and not values["end"]:
            return self._render(
                request, "payments_reconciliation.html", access=access, values=values, report=None
            )
        try:
            period = check_period(values["start"], values["end"], values["currency"])
            report = self.payments.reconciliation(
                access.staff, access.team.id, period, request.query_params.get("page", "")
            )
        except InvalidArgument as exc:
            return self._render(
                request,
                "payments_reconciliation.html",
                status=400,
                access=access,
                values=values,
                report=None,
                errors=self.web.field_errors(request, exc),
            )
        query = {**values, "currency": period.currency}
        return self._render(
            request,
            "payments_reconciliation.html",
            access=access,
            values=values,
            report=report,
            export_query=query,
            next_query={**query, "page": report.next_page_token}
            if report.next_page_token
            else None,
        )

    def reconciliation_export(self, request: Request, form: Form, access: TeamAccess) -> Response:
        values = {k: request.query_params.get(k, "") for k in ("start", "end", "currency")}
        period = check_period(values["start"], values["end"], values["currency"])
        lines = self.payments.reconciliation_lines(access.staff, access.team.id, period)
        name = f"reconciliation-{values['start']}-{values['end']}.csv"
        return StreamingResponse(
            report_lines(lines, period.currency),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    # -- one payment and its refund ----------------------------------------------------

    def payment(self, request: Request, form: Form, access: TeamAccess) -> Response:
        return self._payment(request, access, str(request.path_params["payment_id"]))

    def _payment(
        self,
        request: Request,
        access: TeamAccess,
        payment_id: str,
        *,
        errors: list[FieldError] | None = None,
        amount: str = "",
        status: int = 200,
    ) -> Response:
        detail = self.payments.payment(access.staff, access.team.id, payment_id)
        return self._render(
            request,
            "payments_payment.html",
            status=status,
            access=access,
            detail=detail,
            can_refund=access.may(Action.REFUND) and detail.payment.refundable_amount > 0,
            errors=errors or [],
            amount=amount,
        )

    def refund(self, request: Request, form: Form, access: TeamAccess) -> Response:
        """The first POST (an amount typed) asks to confirm; the second (``confirmed``
        with the amount in minor units, what was left and the key) refunds."""
        payment_id = str(request.path_params["payment_id"])
        typed = form.get("amount", "")
        try:
            if form.get("confirmed") != "yes":
                return self._confirm(request, access, payment_id, typed)
            self.payments.refund(
                access.staff,
                access.team.id,
                payment_id,
                _number(form.get("amount_minor", "")),
                _number(form.get("expected_available", "")),
                form.get("idempotency_key", ""),
            )
        except InvalidArgument as exc:
            return self._payment(
                request,
                access,
                payment_id,
                errors=self.web.field_errors(request, exc),
                amount=typed,
                status=400,
            )
        return RedirectResponse(
            f"/teams/{access.team.id}/payments/{payment_id}#refunds", status_code=303
        )

    def _confirm(
        self, request: Request, access: TeamAccess, payment_id: str, typed: str
    ) -> Response:
        payment = self.payments.refundable(access.staff, access.team.id, payment_id)
        amount = parse_amount(typed, payment.currency)
        if amount > payment.refundable_amount:
            raise InvalidArgument.from_violations(
                [FieldViolation("amount", "The amount is more than is left to refund")]
            )
        return self._render(
            request,
            "payments_refund_confirm.html",
            access=access,
            payment=payment,
            amount=amount,
            typed=typed,
            idempotency_key=secrets.token_urlsafe(24),
        )


def _number(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument.from_violations(
            [FieldViolation("amount", "Enter an amount like 12.50, more than zero")]
        )
    return int(raw)


def payment_routes(web: ConsoleWeb) -> list[BaseRoute]:
    pages = PaymentPages(web)
    one = "/teams/{team_id}/payments/{payment_id}"
    report = "/teams/{team_id}/payments/reconciliation"
    return [
        web.team("/teams/{team_id}/payments", Action.VIEW_PAYMENTS, pages.transactions),
        web.team("/teams/{team_id}/payments/export", Action.VIEW_PAYMENTS, pages.export),
        web.team(report, Action.VIEW_PAYMENTS, pages.reconciliation),
        web.team(report + "/export", Action.VIEW_PAYMENTS, pages.reconciliation_export),
        web.team(one, Action.VIEW_PAYMENTS, pages.payment),
        web.team(one + "/refund", Action.REFUND, pages.refund, ("POST",)),
    ]
