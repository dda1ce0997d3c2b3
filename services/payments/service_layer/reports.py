"""The reconciliation report: what the ledger says moved for an agency in a
range, a page of lines at a time, with the totals of the whole range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.payments.service_layer.unit_of_work import PaymentsWork
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.pagination import Page, PageRequest

MAX_REPORT_DAYS = 366


@dataclass(frozen=True)
class ReportLine:
    kind: str
    payment_id: str
    refund_id: str
    reference: str
    amount: int
    at: datetime


@dataclass(frozen=True)
class Report:
    currency: str
    lines: list[ReportLine]
    captured_total: int
    refunded_total: int
    ledger_net_total: int
    next_page_token: str = ""


def check_range(start: datetime, end: datetime) -> None:
    if end <= start or (end - start).days > MAX_REPORT_DAYS:
        raise InvalidArgument.from_violations(
            [FieldViolation("end_time", f"must be after start_time, within {MAX_REPORT_DAYS} days")]
        )


def line_token(after: str | None) -> tuple[datetime, int] | None:
    """A report page token's time and ledger line id."""
    if after is None:
        return None
    at, _, line_id = after.rpartition("|")
    try:
        return datetime.fromisoformat(at), int(line_id)
    except ValueError:
        raise InvalidArgument.from_violations(
            [FieldViolation("page_token", "not a token from a previous response")]
        ) from None


def report(
    uow: PaymentsWork,
    tenant: str,
    currency: str,
    start: datetime,
    end: datetime,
    page: PageRequest,
    *,
    after: tuple[datetime, int] | None,
) -> Report:
    """``after``: the checked ``page.after`` (``line_token``)."""
    found = uow.ledger.movements(tenant, currency, start, end, after=after, limit=page.size + 1)
    refs = uow.payments.references(tenant, [m.payment_id for m in found])
    totals = uow.ledger.totals(tenant, currency, start, end)
    net = uow.ledger.agency_net(tenant, currency, start, end)
    lines = Page.from_overfetch(found, page.size, lambda m: f"{m.at.isoformat()}|{m.line_id}")
    return Report(
        currency=currency,
        lines=[
            ReportLine(
                m.kind,
                m.payment_id,
                m.refund_id or "",
                refs.get(m.payment_id, ""),
                abs(m.amount),
                m.at,
            )
            for m in lines.items
        ],
        captured_total=totals.get("capture", 0),
        refunded_total=totals.get("refund", 0),
        ledger_net_total=net,
        next_page_token=lines.next_page_token,
    )
