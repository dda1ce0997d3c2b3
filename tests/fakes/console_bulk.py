"""notify's bulk sends as one agency sees them, on top of the console's fake
notify (tests/fakes/console_notify.py): ``CreateBulkSend`` checks each row as the
fake checks one send (an email address needs an "@", every placeholder a
non-empty value), lists at most 100 problems as notify does, and with
``validate_only`` queues nothing; ``GetBulkSend`` and ``CancelBulkSend``."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from gaap.notify.v1 import notify_pb2 as npb

from gaap_client import errors
from gaap_client.errors import FieldViolation
from tests.fakes.console_notify import FakeNotifyApi

REPORTED = 100


@dataclass
class FakeBulkNotifyApi(FakeNotifyApi):
    bulk_sends: dict[str, npb.BulkSend] = field(default_factory=dict)
    sent_rows: dict[str, list[npb.BulkRow]] = field(default_factory=dict)

    def CreateBulkSend(self, request: npb.CreateBulkSendRequest, /) -> npb.BulkSend:
        self.calls.append("CreateBulkSend.check" if request.validate_only else "CreateBulkSend")
        if request.idempotency_key in self.replies:
            answer: npb.BulkSend = self.replies[request.idempotency_key]
            return answer
        template = self.GetTemplate(npb.GetTemplateRequest(template_id=request.template_id))
        problems: list[FieldViolation] = []
        bad = 0
        for number, row in enumerate(request.rows, start=1):
            found = []
            if template.channel == npb.CHANNEL_EMAIL and "@" not in row.recipient:
                found.append(FieldViolation(f"rows[{number}].recipient", "not a valid address"))
            for name in template.placeholders:
                value = row.personalisation.get(name)
                if value is None or not value.text:
                    where = f"rows[{number}].personalisation.{name}"
                    found.append(FieldViolation(where, "missing: the template uses it"))
            bad += bool(found)
            if found and len(problems) < REPORTED:
                problems += found
        if problems:
            raise errors.InvalidArgument(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{bad} of {len(request.rows)} rows are invalid; nothing was queued",
                field_violations=problems[:REPORTED],
            )
        total = len(request.rows)
        if request.validate_only:
            return npb.BulkSend(template_id=template.id, channel=template.channel, total=total)
        bulk = npb.BulkSend(
            id=f"bulk_{len(self.bulk_sends) + 1}",
            template_id=template.id,
            template_version=template.version,
            channel=template.channel,
            total=total,
            pending=total,
        )
        self.bulk_sends[bulk.id] = bulk
        self.sent_rows[bulk.id] = list(request.rows)
        self.replies[request.idempotency_key] = bulk
        return bulk

    def GetBulkSend(self, request: npb.GetBulkSendRequest, /) -> npb.BulkSend:
        self.calls.append("GetBulkSend")
        if request.bulk_send_id not in self.bulk_sends:
            raise errors.NotFound(grpc.StatusCode.NOT_FOUND, "no such bulk send")
        return self.bulk_sends[request.bulk_send_id]

    def CancelBulkSend(self, request: npb.CancelBulkSendRequest, /) -> npb.BulkSend:
        self.calls.append("CancelBulkSend")
        bulk = self.GetBulkSend(npb.GetBulkSendRequest(bulk_send_id=request.bulk_send_id))
        bulk.cancelled += bulk.pending
        bulk.pending = 0
        return bulk


@dataclass
class FakeBulkNotifyAgency:
    """What ``ActingFor.connect`` hands the bulk pages: an agency's client."""

    notify: FakeBulkNotifyApi = field(default_factory=FakeBulkNotifyApi)
