"""A status callback spells the status and channel exactly as the gRPC and JSON
API do: the protobuf enum value names."""

from __future__ import annotations

from gaap.notify.v1 import notify_pb2 as pb

from services.notify.domain.callbacks import channel_name, status_name
from services.notify.domain.statuses import CHANNELS, STATUSES


def test_every_status_and_channel_has_its_proto_name() -> None:
    assert {status_name(s) for s in STATUSES} == set(pb.Status.keys()) - {"STATUS_UNSPECIFIED"}
    assert {channel_name(c) for c in CHANNELS} == set(pb.Channel.keys()) - {"CHANNEL_UNSPECIFIED"}
