"""gaap_client.errors: a failed call's google.rpc details on its typed exception
(ErrorInfo's reason, domain and metadata; BadRequest; RetryInfo)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from gaap_client.errors import FailedPrecondition, FieldViolation, GaapError, from_rpc_error

MESSAGE = "refund of 701 exceeds the available amount 700; nothing was refunded"


class FailedCall(grpc.RpcError):
    """What a stub raises: an RpcError that is also a grpc.Call."""

    def __init__(self, code: grpc.StatusCode, message: str, *details: Message) -> None:
        self._code = code
        self._message = message
        packed = []
        for detail in details:
            each = any_pb2.Any()
            each.Pack(detail)
            packed.append(each)
        status = status_pb2.Status(code=code.value[0], message=message, details=packed)
        self._trailers = (
            ("x-request-id", "req-1"),
            ("grpc-status-details-bin", status.SerializeToString()),
        )

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> Any:  # grpc's are (key, value) pairs; its stubs say otherwise
        return self._trailers


def refused(reason: str, **metadata: str) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain="payments.gaap", metadata=metadata)


def test_error_info_gives_the_reason_domain_and_metadata() -> None:
    figures = {"available_amount": "700", "requested_amount": "701", "currency": "GBP"}
    error = from_rpc_error(
        FailedCall(
            grpc.StatusCode.FAILED_PRECONDITION,
            MESSAGE,
            refused("REFUND_EXCEEDS_AVAILABLE", **figures),
        )
    )
    assert isinstance(error, FailedPrecondition)
    assert (error.reason, error.domain, dict(error.metadata)) == (
        "REFUND_EXCEEDS_AVAILABLE",
        "payments.gaap",
        figures,
    )
    assert (error.message, error.request_id) == (MESSAGE, "req-1")


def test_error_info_sits_beside_the_other_details() -> None:
    error = from_rpc_error(
        FailedCall(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "slow down",
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="amount", description="> 0")
                ]
            ),
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2)),
            refused("AVAILABLE_AMOUNT_CHANGED", available_amount="700"),
            refused("SECOND", ignored="yes"),  # one ErrorInfo per status: the first is used
        )
    )
    assert error.field_violations == (FieldViolation("amount", "> 0"),)
    assert error.retry_after == 2.0
    assert error.reason == "AVAILABLE_AMOUNT_CHANGED"
    assert error.metadata == {"available_amount": "700"}


@pytest.mark.parametrize(
    "error",
    [
        FailedCall(grpc.StatusCode.NOT_FOUND, "no payment"),
        FailedCall(grpc.StatusCode.INTERNAL, "boom"),
        grpc.RpcError("not a call"),
    ],
)
def test_without_error_info_the_reason_is_empty(error: grpc.RpcError) -> None:
    converted = from_rpc_error(error)
    assert (converted.reason, converted.domain, dict(converted.metadata)) == ("", "", {})


def test_details_that_disagree_with_the_code_are_ignored_whole() -> None:
    call = FailedCall(grpc.StatusCode.FAILED_PRECONDITION, MESSAGE, refused("REFUND_X"))
    call._code = grpc.StatusCode.ABORTED  # the status in the trailers says otherwise
    converted = from_rpc_error(call)
    assert converted.status == grpc.StatusCode.ABORTED
    assert converted.reason == ""


def test_an_exception_made_by_hand_carries_what_it_is_given() -> None:
    made = GaapError(
        grpc.StatusCode.FAILED_PRECONDITION, "m", reason="R", domain="d", metadata={"k": "v"}
    )
    assert (made.reason, made.domain, made.metadata) == ("R", "d", {"k": "v"})
    assert from_rpc_error(made) is made
