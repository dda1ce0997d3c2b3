"""The payment pages' money and CSV: amounts in the currency's own units as each
language writes them, and cells a spreadsheet would run as formulas made inert."""

from __future__ import annotations

import csv
import io
from collections.abc import Generator

import grpc
import pytest
from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import errors as gaap
from services.console.service_layer.payments_console import Capped
from services.console.web.payment_pages import csv_cell, csv_lines, money, report_lines


@pytest.mark.parametrize(
    ("amount", "currency", "language", "shown"),
    [
        (1050, "GBP", "en", "£10.50"),
        (1050, "GBP", "zh-Hans", "£10.50"),
        (500, "JPY", "en", "JP¥500"),  # no minor units
        (123456, "EUR", "en", "€1,234.56"),
        (123456, "CNY", "zh-Hans", "¥1,234.56"),
        (123456, "CNY", "en", "CN¥1,234.56"),
    ],
)
def test_money_is_written_in_the_currencys_units_for_the_language(
    amount: int, currency: str, language: str, shown: str
) -> None:
    assert money(amount, currency, language) == shown


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_gets_a_quote(start: str) -> None:
    assert csv_cell(start + "cmd|' /C calc'!A0") == "'" + start + "cmd|' /C calc'!A0"


def test_plain_cells_are_left_alone() -> None:
    assert [csv_cell(v) for v in ("PARKS-1", "10.50", "", "a=b")] == ["PARKS-1", "10.50", "", "a=b"]


def test_the_payments_csv_has_a_row_per_payment_with_inert_text() -> None:
    payment = pb.Payment(
        id="pay_1",
        amount=1050,
        currency="GBP",
        reference='=HYPERLINK("http://evil")',
        description="@SUM(A1)",
        email="-a@example.com",
        state=pb.PAYMENT_STATE_SUCCESS,
        captured_amount=1050,
        refundable_amount=650,
        card=pb.CardDetails(brand="visa", last_four="4242"),
    )
    rows = list(csv.DictReader(io.StringIO("".join(csv_lines(iter([payment]))))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["reference"], row["description"], row["email"]) == (
        '\'=HYPERLINK("http://evil")',
        "'@SUM(A1)",
        "'-a@example.com",
    )
    assert (row["state"], row["amount"], row["refundable"], row["card last four"]) == (
        "success",
        "10.50",
        "6.50",
        "4242",
    )


def test_the_report_csv_writes_amounts_in_major_units() -> None:
    lines = [
        pb.ReconciliationLine(kind="capture", payment_id="pay_1", reference="+1", amount=1050),
        pb.ReconciliationLine(kind="refund", payment_id="pay_1", refund_id="rfd_1", amount=400),
    ]
    rows = list(csv.DictReader(io.StringIO("".join(report_lines(iter(lines), "GBP")))))
    assert [(r["kind"], r["reference"], r["amount"]) for r in rows] == [
        ("capture", "'+1", "10.50"),
        ("refund", "", "4.00"),
    ]


def test_an_export_cut_at_its_cap_says_so_on_its_last_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("services.console.service_layer.payments_console.EXPORT_CAP", 2)

    def pages() -> Generator[list[pb.Payment]]:
        yield [pb.Payment(id=f"pay_{n}", currency="GBP") for n in range(3)]

    whole = "".join(csv_lines(Capped(pages())))
    assert whole.count("pay_") == 2
    assert whole.splitlines()[-1].startswith("More than")
    assert "More than" not in "".join(csv_lines([pb.Payment(id="pay_1", currency="GBP")]))


def test_an_export_that_payments_stops_answering_says_it_is_incomplete() -> None:
    def pages() -> Generator[list[pb.Payment]]:
        yield [pb.Payment(id="pay_1", currency="GBP")]
        raise gaap.Unavailable(grpc.StatusCode.UNAVAILABLE, "payments is down")

    written = "".join(csv_lines(Capped(pages()))).splitlines()
    assert written[1].startswith("pay_1,")
    assert written[-1] == "The service stopped answering: this file is incomplete. Try again."
