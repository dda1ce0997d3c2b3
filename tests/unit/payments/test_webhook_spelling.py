"""A webhook spells every state and code exactly as the gRPC and JSON API do:
the protobuf enum value names, so an agency compares one spelling everywhere."""

from __future__ import annotations

from gaap.payments.v1 import payments_pb2 as pb

from services.payments.domain import events
from services.payments.domain.payments import Failure, State
from services.payments.domain.refunds import RefundState
from tests.unit.payments.conftest import AGENCY, World, key


def test_every_state_and_code_has_its_proto_name() -> None:
    assert {events.state_name(s) for s in State} == set(pb.PaymentState.keys()) - {
        "PAYMENT_STATE_UNSPECIFIED"
    }
    assert {events.failure_name(f) for f in Failure} == set(pb.FailureCode.keys()) - {
        "FAILURE_CODE_UNSPECIFIED"
    }
    assert {events.refund_state_name(s) for s in RefundState} == set(pb.RefundState.keys()) - {
        "REFUND_STATE_UNSPECIFIED"
    }
    assert events.failure_name(None) is None


def test_the_webhook_body_names_the_state_as_the_api_does(w: World) -> None:
    w.subscriptions.create(AGENCY, "https://agency.example/hook", [], key("s"))
    w.create()
    (queued,) = w.state.deliveries.rows
    assert queued.payload["payment"]["state"] == "PAYMENT_STATE_CREATED"
    assert queued.payload["payment"]["failure_code"] is None
