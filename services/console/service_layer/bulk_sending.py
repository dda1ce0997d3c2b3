"""Sending to a list: upload a CSV or .xlsx for a template, see which rows notify
would refuse and a preview of the first ones, then send the good rows as one
bulk send, follow its progress and cancel what is not sent yet. Senders,
developers and administrators; every call to notify is the team's agency's.

Which rows are bad is notify's to say, with its own rules (the agency's region
and international permission for numbers): ``CreateBulkSend`` with
``validate_only`` lists the first 100 problems, so the rows it names are set
aside and the rest asked again, up to ``CHECK_ROUNDS`` times. The upload is
kept server-side (``domain/bulk_uploads.py``); the audit trail names the
upload, template and bulk send, never a recipient."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from gaap.notify.v1 import notify_pb2 as npb

from gaap_client import errors as client_errors
from services.console.domain.bulk_uploads import (
    KEPT_FOR,
    PREVIEWED_ROWS,
    BulkUpload,
    GoodRow,
    RowProblem,
)
from services.console.domain.recipient_lists import (
    RECIPIENT_COLUMNS,
    ColumnsError,
    Recipient,
    recipients,
)
from services.console.domain.roles import Action
from services.console.domain.spreadsheets import SpreadsheetError, read
from services.console.domain.staff import Staff
from services.console.service_layer.access import authorise, record
from services.console.service_layer.notify_calls import personalisation, refusals
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound

CHECK_ROUNDS = 10  # at most about 1,000 bad rows are listed; more and the file is refused
_ROW = re.compile(r"^rows\[(\d+)\]\.(recipient|reference|personalisation)(?:\.(.+))?$")


class BulkNotifyApi(Protocol):
    def GetTemplate(self, request: npb.GetTemplateRequest, /) -> npb.Template: ...
    def PreviewTemplate(self, request: npb.PreviewTemplateRequest, /) -> npb.Preview: ...
    def CreateBulkSend(self, request: npb.CreateBulkSendRequest, /) -> npb.BulkSend: ...
    def GetBulkSend(self, request: npb.GetBulkSendRequest, /) -> npb.BulkSend: ...
    def CancelBulkSend(self, request: npb.CancelBulkSendRequest, /) -> npb.BulkSend: ...


class BulkNotifyAgency(Protocol):
    @property
    def notify(self) -> BulkNotifyApi: ...


BulkConnect = Callable[[Staff, str, Action], AbstractContextManager[BulkNotifyAgency]]


@dataclass(frozen=True)
class UploadView:
    upload: BulkUpload
    template: npb.Template
    previews: list[npb.Preview]


def _file_error(message: str) -> InvalidArgument:
    return InvalidArgument.from_violations([FieldViolation("file", message)])


@contextmanager
def _file_refusals() -> Iterator[None]:
    try:
        yield
    except SpreadsheetError as exc:
        raise _file_error(str(exc)) from None


class BulkSending:
    def __init__(
        self, transactions: ConsoleTransactions, connect: BulkConnect, clock: Clock = utcnow
    ) -> None:
        self._uow = transactions
        self._connect = connect
        self._clock = clock

    def upload(
        self, staff: Staff, team_id: str, *, template_id: str, file_name: str, data: bytes
    ) -> BulkUpload:
        """Read the file, check its rows at notify, keep it; ``InvalidArgument`` on
        ``template`` or ``file`` for a file that cannot be sent at all."""
        if not template_id:
            raise InvalidArgument.from_violations([FieldViolation("template", "Choose a template")])
        with _file_refusals():
            sheet = read(data)
        with self._connect(staff, team_id, Action.SEND_MESSAGES) as agency, refusals():
            template = agency.notify.GetTemplate(npb.GetTemplateRequest(template_id=template_id))
            channel = "sms" if template.channel == npb.CHANNEL_SMS else "email"
            try:
                rows = recipients(sheet, channel, template.placeholders)
            except ColumnsError as exc:
                named = ", ".join(f"“{c}”" for c in exc.missing + exc.repeated)
                # "<message id>: <columns>": the page translates the part before ": "
                message = (
                    "The file needs a column for each of"
                    if exc.missing
                    else "The file names a column more than once"
                )
                raise _file_error(f"{message}: {named}") from None
            good, problems = self._check(agency.notify, template, channel, rows)
        now = self._clock()
        upload = BulkUpload(
            id="upl_" + secrets.token_urlsafe(18),
            team_id=team_id,
            uploaded_by=staff.subject,
            template_id=template_id,
            file_name=file_name[:255],
            rows=tuple(GoodRow(r.line, r.recipient, r.values) for r in good),
            problems=tuple(problems),
            created_at=now,
        )
        with self._uow() as uow:
            uow.bulk_uploads.purge(now - KEPT_FOR)
            uow.bulk_uploads.add(upload)
            record(
                uow,
                staff,
                team_id,
                "upload_recipients",
                now,
                upload_id=upload.id,
                template_id=template_id,
                rows=str(len(good)),
                bad_rows=str(len({p.line for p in problems})),
            )
        return upload

    def _check(
        self, notify: BulkNotifyApi, template: npb.Template, channel: str, rows: list[Recipient]
    ) -> tuple[list[Recipient], list[RowProblem]]:
        recipient_column = RECIPIENT_COLUMNS[channel]
        good = list(rows)
        problems: list[RowProblem] = []
        for _ in range(CHECK_ROUNDS):
            if not good:
                break
            try:
                notify.CreateBulkSend(
                    npb.CreateBulkSendRequest(
                        template_id=template.id,
                        rows=[_bulk_row(r) for r in good],
                        validate_only=True,
                        idempotency_key="console-check-" + secrets.token_urlsafe(18),
                    )
                )
                break
            except client_errors.InvalidArgument as exc:
                bad: set[int] = set()
                for violation in exc.field_violations:
                    found = _ROW.match(violation.field)
                    if not found:  # not about one row: the whole send is refused
                        raise _file_error(violation.description or exc.message) from None
                    index = int(found[1]) - 1
                    column = recipient_column if found[2] == "recipient" else (found[3] or found[2])
                    problems.append(RowProblem(good[index].line, column, violation.description))
                    bad.add(index)
                good = [r for i, r in enumerate(good) if i not in bad]
        else:
            raise _file_error("Too many rows have problems: correct the file and upload it again")
        problems.sort(key=lambda p: (p.line, p.column))
        return good, problems

    def view(self, staff: Staff, team_id: str, upload_id: str) -> UploadView:
        """The upload with a preview of its first rows (its uploader's alone)."""
        upload = self._mine(staff, team_id, upload_id)
        with self._connect(staff, team_id, Action.SEND_MESSAGES) as agency, refusals():
            template = agency.notify.GetTemplate(
                npb.GetTemplateRequest(template_id=upload.template_id)
            )
            previews = [
                agency.notify.PreviewTemplate(
                    npb.PreviewTemplateRequest(
                        template_id=upload.template_id,
                        version=template.version,
                        personalisation=personalisation(row.values),
                    )
                )
                for row in upload.rows[:PREVIEWED_ROWS]
            ]
        return UploadView(upload, template, previews)

    def send(self, staff: Staff, team_id: str, upload_id: str) -> str:
        """Send the upload's good rows once: the bulk send's id (the same one
        however often the form is sent)."""
        upload = self._mine(staff, team_id, upload_id)
        if upload.bulk_send_id:
            return upload.bulk_send_id
        if not upload.rows:
            raise InvalidArgument.from_violations(
                [FieldViolation("form", "There are no rows to send")]
            )
        with self._connect(staff, team_id, Action.SEND_MESSAGES) as agency, refusals():
            sent = agency.notify.CreateBulkSend(
                npb.CreateBulkSendRequest(
                    template_id=upload.template_id,
                    rows=[_bulk_row(r) for r in upload.rows],
                    # one key per upload: two presses of "Send" make one bulk send
                    idempotency_key="console-bulk-" + upload.id,
                )
            )
        with self._uow() as uow:
            uow.bulk_uploads.mark_sent(upload.id, sent.id)
            record(
                uow,
                staff,
                team_id,
                "send_bulk",
                self._clock(),
                upload_id=upload.id,
                bulk_send_id=sent.id,
                template_id=upload.template_id,
                rows=str(sent.total),
            )
        return sent.id

    def progress(self, staff: Staff, team_id: str, bulk_send_id: str) -> npb.BulkSend:
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency, refusals():
            return agency.notify.GetBulkSend(npb.GetBulkSendRequest(bulk_send_id=bulk_send_id))

    def cancel(self, staff: Staff, team_id: str, bulk_send_id: str) -> npb.BulkSend:
        with self._connect(staff, team_id, Action.SEND_MESSAGES) as agency, refusals():
            cancelled = agency.notify.CancelBulkSend(
                npb.CancelBulkSendRequest(
                    bulk_send_id=bulk_send_id,
                    idempotency_key="console-cancel-" + secrets.token_urlsafe(18),
                )
            )
        with self._uow() as uow:
            record(uow, staff, team_id, "cancel_bulk", self._clock(), bulk_send_id=bulk_send_id)
        return cancelled

    def _mine(self, staff: Staff, team_id: str, upload_id: str) -> BulkUpload:
        now = self._clock()
        with self._uow() as uow:
            authorise(uow, staff, team_id, Action.SEND_MESSAGES)
            uow.bulk_uploads.purge(now - KEPT_FOR)
            upload = uow.bulk_uploads.get(team_id, upload_id)
        # Another member's upload is not found: its rows are that member's to send.
        if upload is None or upload.uploaded_by != staff.subject:
            raise NotFound("Page not found")
        return upload


def _bulk_row(row: Recipient | GoodRow) -> npb.BulkRow:
    return npb.BulkRow(recipient=row.recipient, personalisation=personalisation(row.values))
