"""SQL for uploaded recipient lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from services.console.adapters.bulk_upload_tables import bulk_uploads
from services.console.domain.bulk_uploads import BulkUpload, GoodRow, RowProblem


def _upload(row: Any) -> BulkUpload:
    return BulkUpload(
        id=row.id,
        team_id=row.team_id,
        uploaded_by=row.uploaded_by,
        template_id=row.template_id,
        file_name=row.file_name,
        rows=tuple(GoodRow(line, recipient, dict(values)) for line, recipient, values in row.rows),
        problems=tuple(RowProblem(line, column, why) for line, column, why in row.problems),
        created_at=row.created_at,
        bulk_send_id=row.bulk_send_id,
    )


class BulkUploads:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, upload: BulkUpload) -> None:
        self._session.execute(
            bulk_uploads.insert().values(
                id=upload.id,
                team_id=upload.team_id,
                uploaded_by=upload.uploaded_by,
                template_id=upload.template_id,
                file_name=upload.file_name,
                rows=[[r.line, r.recipient, r.values] for r in upload.rows],
                problems=[[p.line, p.column, p.problem] for p in upload.problems],
                bulk_send_id=upload.bulk_send_id,
                created_at=upload.created_at,
            )
        )

    def get(self, team_id: str, upload_id: str) -> BulkUpload | None:
        c = bulk_uploads.c
        row = self._session.execute(
            bulk_uploads.select().where(c.id == upload_id, c.team_id == team_id)
        ).first()
        return _upload(row) if row else None

    def mark_sent(self, upload_id: str, bulk_send_id: str) -> None:
        self._session.execute(
            bulk_uploads.update()
            .where(bulk_uploads.c.id == upload_id)
            .values(rows=[], problems=[], bulk_send_id=bulk_send_id)
        )

    def purge(self, created_before: datetime) -> int:
        done = self._session.execute(
            bulk_uploads.delete().where(bulk_uploads.c.created_at < created_before)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]
