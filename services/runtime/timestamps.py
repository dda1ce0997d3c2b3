"""``datetime`` and ``google.protobuf.Timestamp``, both ways, for every service's API.

Datetimes come out aware, in UTC. A naive datetime going in is taken as UTC, as
protobuf's ``FromDatetime`` takes it. An aware one is turned into seconds and
nanoseconds from its distance to the epoch: a third of ``FromDatetime``'s cost
(which goes through a time tuple), on every timestamp of every response.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stamp_into(field: Timestamp, at: datetime | None) -> None:
    """Set a message's timestamp field in place (no Timestamp made and copied
    in); ``None`` leaves it unset."""
    if at is None:
        return
    if at.tzinfo is None:
        field.FromDatetime(at)
        return
    since = at - _EPOCH
    field.seconds = since.days * 86_400 + since.seconds
    field.nanos = since.microseconds * 1000


def timestamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp_into(stamp, at)
    return stamp


def field_datetime(message: Message, field: str) -> datetime | None:
    """A request's optional timestamp field, or ``None`` when it is not set."""
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)
