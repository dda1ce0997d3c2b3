"""A sheet of recipients for one template: its header must name the recipient
column (``email address`` or ``phone number``, by the template's channel) and
every placeholder of the template, matched as notify matches them. Each data
row becomes a recipient and its placeholders' values; which rows notify would
refuse is notify's to say (its rules for addresses and numbers depend on the
agency's settings)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.console.domain.spreadsheets import Sheet, column_key

RECIPIENT_COLUMNS = {"email": "email address", "sms": "phone number"}


class ColumnsError(ValueError):
    """The header lacks columns the template needs (``missing``, as the sender
    should name them) or repeats one (``repeated``)."""

    def __init__(self, missing: list[str], repeated: list[str]) -> None:
        super().__init__(", ".join(missing + repeated))
        self.missing = missing
        self.repeated = repeated


@dataclass(frozen=True)
class Recipient:
    """One data row: its line in the file, the recipient, the placeholders' values."""

    line: int
    recipient: str
    values: dict[str, str]


def recipients(sheet: Sheet, channel: str, placeholders: Iterable[str]) -> list[Recipient]:
    """The rows of ``sheet`` as recipients; ``ColumnsError`` if its header does not fit."""
    recipient_column = RECIPIENT_COLUMNS[channel]
    wanted = [recipient_column, *dict.fromkeys(placeholders)]
    keys = [column_key(name) for name in sheet.header]
    repeated = sorted({sheet.header[i] for i, k in enumerate(keys) if k and keys.count(k) > 1})
    missing = [name for name in wanted if column_key(name) not in keys]
    if missing or repeated:
        raise ColumnsError(missing, repeated)
    at = {column_key(name): keys.index(column_key(name)) for name in wanted}
    return [
        Recipient(
            line,
            row[at[column_key(recipient_column)]],
            {name: row[at[column_key(name)]] for name in wanted[1:]},
        )
        for line, row in zip(sheet.numbers, sheet.rows, strict=True)
    ]
