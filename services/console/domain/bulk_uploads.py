"""An uploaded recipient list waiting to be sent: kept in the console's database
(never in the form) under a random id, for the staff member who uploaded it,
until it is sent or 24 hours pass. Its rows are personal data: sending it
forgets them (the record keeps only the bulk send's id, so a second press of
"Send" finds that send), and an unsent upload is purged whole when it expires."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

KEPT_FOR = timedelta(hours=24)
PREVIEWED_ROWS = 3


@dataclass(frozen=True)
class GoodRow:
    line: int
    recipient: str
    values: dict[str, str]


@dataclass(frozen=True)
class RowProblem:
    """A row notify (or the file) refuses: its line in the file, the column, why."""

    line: int
    column: str
    problem: str


@dataclass(frozen=True)
class BulkUpload:
    id: str
    team_id: str
    uploaded_by: str  # the staff member's subject
    template_id: str
    file_name: str
    rows: tuple[GoodRow, ...]
    problems: tuple[RowProblem, ...]
    created_at: datetime
    bulk_send_id: str = ""

    @property
    def expires_at(self) -> datetime:
        return self.created_at + KEPT_FOR

    def sent(self, bulk_send_id: str) -> BulkUpload:
        """Sent: its rows and problems (personal data) forgotten."""
        return replace(self, rows=(), problems=(), bulk_send_id=bulk_send_id)
