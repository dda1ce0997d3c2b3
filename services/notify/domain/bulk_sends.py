"""Bulk sends: what one is, and its rows (given as a list or as CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.notify.domain import placeholders
from services.notify.domain.notifications import MAX_BULK_ROWS
from services.notify.domain.placeholders import Value
from services.notify.domain.statuses import FAILURES
from services.runtime.errors import FieldViolation, InvalidArgument

Row = tuple[str, Mapping[str, Value], str]  # recipient, personalisation, reference


@dataclass(frozen=True)
class BulkSend:
    id: str
    tenant: str
    template_id: str
    template_version: int
    channel: str
    total: int
    reference: str
    scheduled_for: datetime | None
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)  # notifications per status

    def count(self, *statuses: str) -> int:
        return sum(self.counts.get(s, 0) for s in statuses)

    @property
    def failed(self) -> int:
        return self.count(*FAILURES)


def parse_rows(csv_text: str, rows: Sequence[Row], channel: str) -> list[Row]:
    """The rows to send: ``rows`` or ``csv_text`` (exactly one), 1 to MAX_BULK_ROWS."""
    if bool(csv_text) == bool(rows):
        raise InvalidArgument.from_violations([FieldViolation("rows", "give either csv or rows")])
    found = list(rows) if rows else csv_rows(csv_text, channel)
    if len(found) > MAX_BULK_ROWS:
        raise InvalidArgument.from_violations(
            [FieldViolation("rows", f"{len(found)} rows; at most {MAX_BULK_ROWS:,}")]
        )
    if not found:
        raise InvalidArgument.from_violations([FieldViolation("rows", "no rows to send")])
    return found


def csv_rows(text: str, channel: str) -> list[Row]:
    """A header row naming the recipient's column and the placeholders, then one
    row per message (reading stops one past the maximum: that is refused)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    wanted = "emailaddress" if channel == "email" else "phonenumber"
    names = [placeholders.normalise(h) for h in header or []]
    if wanted not in names:
        column = "email address" if channel == "email" else "phone number"
        raise InvalidArgument.from_violations(
            [FieldViolation("csv", f"the header row needs a {column!r} column")]
        )
    at = names.index(wanted)
    found: list[Row] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        # An empty cell is a missing value, reported like any other.
        values = {n: c for n, c in zip(names, cells, strict=False) if n != wanted and c != ""}
        found.append((cells[at] if at < len(cells) else "", values, ""))
        if len(found) > MAX_BULK_ROWS:
            break
    return found
