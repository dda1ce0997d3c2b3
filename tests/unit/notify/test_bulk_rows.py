"""Bulk sends' rows: CSV columns per channel, the row limit at its edge, the exact
refusals, and the per-status counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify.domain import bulk_sends
from services.notify.domain.bulk_sends import BulkSend, Row, csv_rows, parse_rows
from services.runtime.errors import FieldViolation, InvalidArgument

ROW: Row = ("ada@example.com", {"name": "Ada"}, "")


def violations(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in exc.value.violations]


@pytest.mark.parametrize(("csv_text", "rows"), [("", []), ("email address\na@b.gov.uk", [ROW])])
def test_exactly_one_of_csv_and_rows(csv_text: str, rows: list[Row]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_rows(csv_text, rows, "email")
    assert violations(caught) == [("rows", "give either csv or rows")]


def test_a_csv_with_only_its_header_has_no_rows_to_send() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_rows("email address,name\n\n , \n", [], "email")
    assert violations(caught) == [("rows", "no rows to send")]


def test_up_to_100_000_rows_are_taken_and_one_more_is_refused() -> None:
    assert len(parse_rows("", [ROW] * 100_000, "email")) == 100_000
    with pytest.raises(InvalidArgument) as caught:
        parse_rows("", [ROW] * 100_001, "email")
    assert violations(caught) == [("rows", "100001 rows; at most 100,000")]


def test_csv_reading_stops_one_row_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_sends, "MAX_BULK_ROWS", 3)
    header = "email address\n"
    assert len(csv_rows(header + "a@b.gov.uk\n" * 3, "email")) == 3
    assert len(csv_rows(header + "a@b.gov.uk\n" * 10, "email")) == 4
    with pytest.raises(InvalidArgument) as caught:
        parse_rows(header + "a@b.gov.uk\n" * 10, [], "email")
    assert violations(caught) == [("rows", "4 rows; at most 3")]


def test_the_given_rows_are_returned_as_they_are() -> None:
    rows: list[Row] = [ROW, ("+447700900001", {"a": ["x", "y"]}, "ref")]
    assert parse_rows("", rows, "sms") == rows


@pytest.mark.parametrize(
    ("channel", "header", "column"),
    [
        ("email", "Phone Number,name", "email address"),
        ("sms", "Email_Address,name", "phone number"),
    ],
)
def test_the_header_must_name_the_channels_recipient_column(
    channel: str, header: str, column: str
) -> None:
    for text in (f"{header}\nx,y", ""):
        with pytest.raises(InvalidArgument) as caught:
            csv_rows(text, channel)
        assert caught.value.violations == (
            FieldViolation("csv", f"the header row needs a '{column}' column"),
        )


def test_sms_rows_take_the_phone_number_column() -> None:
    text = "Name,Phone-Number,Email Address\nAda,07700 900001,ada@example.com\n"
    assert csv_rows(text, "sms") == [
        ("07700 900001", {"name": "Ada", "emailaddress": "ada@example.com"}, "")
    ]


def test_csv_cells_empty_cells_short_rows_and_blank_lines() -> None:
    text = (
        "name,email_address,town,day\n"
        "Ada,ada@example.com,,Mon\n"  # an empty cell is a missing value
        ", , ,\n"  # only blanks: skipped
        "\n"
        "Bob\n"  # a short row: no recipient, no town
        "Cy,,York,Tue,extra\n"  # a long row: the extra cell has no name
    )
    assert csv_rows(text, "email") == [
        ("ada@example.com", {"name": "Ada", "day": "Mon"}, ""),
        ("", {"name": "Bob"}, ""),
        ("", {"name": "Cy", "town": "York", "day": "Tue"}, ""),
    ]


def test_a_bulk_send_counts_its_notifications_by_status() -> None:
    send = BulkSend(
        "bulk_1",
        "agency-a",
        "tpl_1",
        1,
        "email",
        9,
        "",
        None,
        datetime(2025, 6, 1, tzinfo=UTC),
        {"delivered": 3, "permanent-failure": 1, "temporary-failure": 2, "sending": 3},
    )
    assert send.count("delivered", "created") == 3
    assert send.count("sending", "delivered") == 6
    assert send.count() == 0
    assert send.failed == 3
    assert BulkSend("b", "t", "tpl", 1, "sms", 0, "", None, send.created_at).failed == 0
