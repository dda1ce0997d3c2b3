"""The reconciliation report is read a page at a time (SQLite and PostgreSQL):
however long the range, one call reads a bounded number of ledger lines, and
the totals still cover the whole range."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from tests.integration.payments.support import Agency, Payments


def stamp(payments: Payments, delta: timedelta) -> Timestamp:
    at = Timestamp()
    at.FromDatetime(payments.clock() + delta)
    return at


def test_the_report_pages_through_every_line_with_whole_range_totals(payments: Payments) -> None:
    agency = Agency(payments)
    start = stamp(payments, timedelta(minutes=-1))
    paid = [agency.paid(amount=100 * (n + 1), reference=f"R{n}") for n in range(5)]
    agency.stub.CreateRefund(
        pb.CreateRefundRequest(payment_id=paid[0].id, amount=50, idempotency_key="refund"),
        metadata=agency.metadata,
    )
    end = stamp(payments, timedelta(minutes=1))

    def page(token: str = "", size: int = 2) -> pb.ReconciliationReport:
        request = pb.GetReconciliationReportRequest(
            start_time=start, end_time=end, page_size=size, page_token=token
        )
        report: pb.ReconciliationReport = agency.stub.GetReconciliationReport(
            request, metadata=agency.metadata
        )
        return report

    pages = [page()]
    while pages[-1].next_page_token:
        pages.append(page(pages[-1].next_page_token))
    assert [len(p.lines) for p in pages] == [2, 2, 2]
    lines = [line for p in pages for line in p.lines]
    assert [(line.kind, line.payment_id, line.amount) for line in lines] == [
        *[("capture", p.id, p.amount) for p in paid],
        ("refund", paid[0].id, 50),
    ]
    assert [line.reference for line in lines[:5]] == [f"R{n}" for n in range(5)]
    for p in pages:  # every page carries the totals of the whole range
        assert (p.captured_total, p.refunded_total, p.net_total) == (1500, 50, 1450)
        assert p.ledger_net_total == p.net_total


@pytest.mark.parametrize(("size", "token"), [(501, ""), (-1, ""), (10, "not-a-token")])
def test_an_oversized_page_or_a_forged_token_is_invalid(
    payments: Payments, size: int, token: str
) -> None:
    agency = Agency(payments)
    request = pb.GetReconciliationReportRequest(
        start_time=stamp(payments, timedelta(days=-1)),
        end_time=stamp(payments, timedelta(days=1)),
        page_size=size,
        page_token=token,
    )
    with pytest.raises(grpc.RpcError) as refused:
        agency.stub.GetReconciliationReport(request, metadata=agency.metadata)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
