"""Reading uploaded recipient lists: CSV (UTF-8, BOM or not, quoted fields) and
.xlsx (first sheet, values only) told apart by their bytes; limits; the header
checked against the template's recipient column and placeholders."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import pytest
from openpyxl import Workbook

from services.console.domain import spreadsheets
from services.console.domain.recipient_lists import ColumnsError, Recipient, recipients
from services.console.domain.spreadsheets import Sheet, SpreadsheetError, read


def xlsx(*rows: Sequence[object], sheets: int = 1) -> bytes:
    book = Workbook()
    book.active.title = "People"  # type: ignore[union-attr]
    for row in rows:
        book.active.append(list(row))  # type: ignore[union-attr]
    for n in range(1, sheets):
        book.create_sheet(f"Other {n}").append(["not", "read"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_csv_with_a_byte_order_mark_quoted_fields_and_blank_lines() -> None:
    data = (
        '\ufeffEmail address,Name,Note\r\n"a@example.com","Ada, Countess","say ""hi"""\r\n'
        "\r\n,,\r\nb@example.com,Bo\r\n"
    )
    sheet = read(data.encode())
    assert sheet.header == ("Email address", "Name", "Note")
    assert sheet.rows == (
        ("a@example.com", "Ada, Countess", 'say "hi"'),
        ("b@example.com", "Bo", ""),  # a short row is padded
    )
    assert sheet.numbers == (2, 5)  # the lines the sender sees


def test_the_same_csv_without_a_byte_order_mark_reads_the_same() -> None:
    body = "email address,name\na@example.com,Åsa 张\n"
    assert read(body.encode()) == read(b"\xef\xbb\xbf" + body.encode())


def test_an_xlsx_first_sheet_values_only() -> None:
    data = xlsx(
        ["Phone number", "Code", None],
        ["07912345678", 1234, None],
        [None, None],
        ["+447912345679", 12.0],
    )
    sheet = read(data)
    assert sheet.header == ("Phone number", "Code")
    assert sheet.rows == (("07912345678", "1234"), ("+447912345679", "12"))
    assert sheet.numbers == (2, 4)


def test_a_formula_is_never_run_and_its_text_is_not_sent() -> None:
    data = xlsx(["email address", "name"], ["a@example.com", "=1+1"])
    assert read(data).rows == (("a@example.com", ""),)  # no cached value: nothing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"\n\n", "The file is empty"),
        (b"email address,name\n", "The file has a header row but no recipients"),
        ("email address\né\n".encode("latin-1"), "A CSV file must be saved as UTF-8"),
        (b'email address\n"unclosed,x\n', "The CSV file is malformed (check its quotation marks)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "The file must be CSV or an Excel workbook (.xlsx)"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8,
            "The file must be CSV or an Excel workbook (.xlsx)",
        ),
    ],
)
def test_files_that_are_not_a_list_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(
        SpreadsheetError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        read(data)


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_a_zip_that_is_not_a_workbook_is_refused_whatever_its_name() -> None:
    with pytest.raises(SpreadsheetError, match="must be CSV or an Excel workbook"):
        read(zipped({"word/document.xml": b"<w/>"}))


def test_a_workbook_with_macros_is_refused() -> None:
    data = xlsx(["email address"], ["a@example.com"])
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {n: source.read(n) for n in source.namelist()}
    members["xl/vbaProject.bin"] = b"\x00macro"
    with pytest.raises(SpreadsheetError, match="macros"):
        read(zipped(members))


def test_a_damaged_workbook_is_refused() -> None:
    with pytest.raises(SpreadsheetError, match="cannot be read"):
        read(zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"not xml"}))


def test_limits_on_size_rows_and_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SpreadsheetError, match="larger than 10 MB"):
        read(b"a" * (spreadsheets.MAX_BYTES + 1))
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 3)
    header = "email address\n"
    assert len(read((header + "a@example.com\n" * 3).encode()).rows) == 3
    with pytest.raises(SpreadsheetError, match="more than 50,000 rows"):
        read((header + "a@example.com\n" * 4).encode())
    with pytest.raises(SpreadsheetError, match="more than 50,000 rows"):
        read(xlsx(["email address"], *[["a@example.com"]] * 4))
    with pytest.raises(SpreadsheetError, match="more than 100 columns"):
        read((",".join(f"c{i}" for i in range(101)) + "\nx\n").encode())


SHEET = Sheet(
    ("Email Address", "First_name", "licence-type", "extra"),
    (("a@example.com", "Ada", "fishing", "x"), ("bad", "Bo", "boat", "")),
    (2, 3),
)


def test_rows_become_recipients_with_the_template_placeholders() -> None:
    assert recipients(SHEET, "email", ["first name", "Licence Type"]) == [
        Recipient(2, "a@example.com", {"first name": "Ada", "Licence Type": "fishing"}),
        Recipient(3, "bad", {"first name": "Bo", "Licence Type": "boat"}),
    ]


def test_missing_and_repeated_columns_are_named() -> None:
    with pytest.raises(ColumnsError) as wrong:
        recipients(SHEET, "sms", ["first name", "date"])
    assert wrong.value.missing == ["phone number", "date"]
    twice = Sheet(("email address", "Name", "name"), (("a@example.com", "A", "B"),), (2,))
    with pytest.raises(ColumnsError) as repeated:
        recipients(twice, "email", ["name"])
    assert repeated.value.repeated == ["Name", "name"]
