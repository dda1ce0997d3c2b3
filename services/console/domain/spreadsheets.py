"""Reading an uploaded list of recipients: CSV (UTF-8, with or without a byte
order mark, comma-separated, quoted fields) or an Excel workbook (.xlsx: its
first sheet, cell values only, never formulas run or macros kept).

What a file is comes from its bytes, not its name: an .xlsx is a zip holding a
workbook; a workbook with macros (``xl/vbaProject.bin``, .xlsm), any other zip
or binary file is refused. Limits bound the work one upload costs: 10 MB,
50,000 data rows, 100 columns.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_COLUMNS = 100
MAX_CELL = 10_000  # characters in one cell (a CSV field larger than this is refused)

_IGNORED = re.compile(r"[\s_\-]+")


class SpreadsheetError(ValueError):
    """Why a file cannot be read (a message id of the console's catalogue)."""


@dataclass(frozen=True)
class Sheet:
    """The header row and the data rows as text, each row as long as the header.
    ``numbers[i]`` is row ``i``'s line in the file (the header is line 1), so
    errors name the row the sender sees in their spreadsheet."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numbers: tuple[int, ...]


def column_key(name: str) -> str:
    """A column's name as notify matches placeholders: case, spaces, "_" and "-"
    ignored (``First Name`` is ``first_name``)."""
    return _IGNORED.sub("", name).lower()


def read(data: bytes) -> Sheet:
    """The sheet in ``data``; ``SpreadsheetError`` for a file it cannot be."""
    if len(data) > MAX_BYTES:
        raise SpreadsheetError("The file is larger than 10 MB")
    if not data.strip():
        raise SpreadsheetError("The file is empty")
    if data.startswith(b"PK\x03\x04"):
        return _sheet(_xlsx_rows(data))
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: .xls and other old Office files
        raise SpreadsheetError("The file must be CSV or an Excel workbook (.xlsx)")
    return _sheet(_csv_rows(data))


def _csv_rows(data: bytes) -> Iterable[list[str]]:
    if b"\x00" in data:
        raise SpreadsheetError("The file must be CSV or an Excel workbook (.xlsx)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpreadsheetError("A CSV file must be saved as UTF-8") from None
    csv.field_size_limit(MAX_CELL)
    try:
        return list(_bounded(csv.reader(io.StringIO(text, newline=""), strict=True)))
    except csv.Error:
        raise SpreadsheetError("The CSV file is malformed (check its quotation marks)") from None


def _bounded(rows: Iterable[list[str]]) -> Iterable[list[str]]:
    for count, row in enumerate(rows):
        if count > MAX_ROWS:  # the header and MAX_ROWS data rows
            raise SpreadsheetError("The file has more than 50,000 rows")
        yield row


def _xlsx_rows(data: bytes) -> Iterable[list[str]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise SpreadsheetError("The file must be CSV or an Excel workbook (.xlsx)") from None
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        raise SpreadsheetError("The file must be CSV or an Excel workbook (.xlsx)")
    if "xl/vbaProject.bin" in names or b"macroEnabled" in archive.read("[Content_Types].xml"):
        raise SpreadsheetError("Workbooks with macros are not accepted: save it as .xlsx")
    # openpyxl imported here: only an upload of a workbook pays for it.
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_vba=False)
    except Exception:  # openpyxl raises many kinds for a damaged workbook
        raise SpreadsheetError("The workbook cannot be read: save it again as .xlsx") from None
    try:
        sheet = book.worksheets[0]
        rows: list[list[str]] = []
        for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1):
            if len(rows) > MAX_ROWS:
                raise SpreadsheetError("The file has more than 50,000 rows")
            rows.append([_cell(v) for v in values])
        return rows
    finally:
        book.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed as 12 reads as 12.0
    return str(value)


def _sheet(raw: Iterable[list[str]]) -> Sheet:
    rows = [[c.strip() for c in r] for r in raw]
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if any(r)]
    if not numbered:
        raise SpreadsheetError("The file is empty")
    (_, header), data = numbered[0], numbered[1:]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise SpreadsheetError("The file has more than 100 columns")
    if not data:
        raise SpreadsheetError("The file has a header row but no recipients")
    width = len(header)
    return Sheet(
        tuple(header),
        tuple(tuple((r + [""] * width)[:width]) for _, r in data),
        tuple(n for n, _ in data),
    )
