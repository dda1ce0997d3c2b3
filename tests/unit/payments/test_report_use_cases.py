"""GetReconciliationReport on the fakes: lines a page at a time, totals of the
whole range, the agency's own currency and range only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.runtime.errors import InvalidArgument
from services.runtime.pagination import PageRequest
from tests.unit.payments.conftest import AGENCY, OTHER, World, caller, key

DAY = timedelta(days=1)


def test_the_report_pages_its_lines_and_totals_the_range(w: World) -> None:
    start = w.clock.now
    one = w.paid(amount=1000, reference="A")
    w.clock.advance(timedelta(minutes=1))
    two = w.paid(amount=500, reference="B")
    refund = w.payments.create_refund(caller(), one.id, 300, None, key("r"))
    w.paid(OTHER, amount=9999)
    w.paid(amount=700, currency="EUR")

    first = w.payments.report(AGENCY, "GBP", start, start + DAY, PageRequest(2, None))
    assert [(x.kind, x.payment_id, x.reference, x.amount) for x in first.lines] == [
        ("capture", one.id, "A", 1000),
        ("capture", two.id, "B", 500),
    ]
    assert (first.captured_total, first.refunded_total, first.ledger_net_total) == (
        1500,
        300,
        1200,
    )
    assert first.next_page_token
    token = f"{first.lines[-1].at.isoformat()}|{_line_id(w, two.id)}"
    rest = w.payments.report(AGENCY, "GBP", start, start + DAY, PageRequest(2, token))
    assert [(x.kind, x.refund_id, x.amount) for x in rest.lines] == [("refund", refund.id, 300)]
    assert rest.next_page_token == ""


def _line_id(w: World, payment_id: str) -> int:
    return next(
        r.id for r in w.state.ledger.rows if r.payment_id == payment_id and "agency" in r.account
    )


def test_a_range_outside_the_report_limits_is_refused(w: World) -> None:
    now = w.clock.now
    for start, end in ((now, now), (now, now - DAY), (now, now + 367 * DAY)):
        with pytest.raises(InvalidArgument):
            w.payments.report(AGENCY, "GBP", start, end, PageRequest(10, None))


def test_a_page_token_not_made_here_is_refused(w: World) -> None:
    now = w.clock.now
    with pytest.raises(InvalidArgument):
        w.payments.report(AGENCY, "GBP", now, now + DAY, PageRequest(10, "yesterday"))
