"""Typed exceptions for GaaP's gRPC status codes, carrying the error details.

A refusal a program should act on says why in ``reason``, ``domain`` and
``metadata`` (``google.rpc.ErrorInfo``), for example payments' refund refusals:

    except FailedPrecondition as refused:
        if refused.reason == "REFUND_EXCEEDS_AVAILABLE":
            left = int(refused.metadata["available_amount"])

Every exception is also a ``grpc.RpcError`` with ``code()`` and ``details()``, so
code written against plain gRPC stubs keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request (``google.rpc.BadRequest.FieldViolation``)."""

    field: str
    description: str


class GaapError(grpc.RpcError):
    """A call failed. ``status`` is the gRPC code; ``message`` is safe to log.

    ``reason`` (a constant such as ``"REFUND_EXCEEDS_AVAILABLE"``), ``domain``
    (the service that gave it, ``"payments.gaap"``) and ``metadata`` (figures as
    text, such as ``available_amount``) come from the status's
    ``google.rpc.ErrorInfo``: empty when it has none."""

    def __init__(
        self,
        status: grpc.StatusCode,
        message: str,
        *,
        field_violations: Sequence[FieldViolation] = (),
        retry_after: float | None = None,
        request_id: str = "",
        reason: str = "",
        domain: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status.name}: {message}")
        self.status = status
        self.message = message
        self.field_violations = tuple(field_violations)
        self.retry_after = retry_after
        self.request_id = request_id
        self.reason = reason
        self.domain = domain
        self.metadata: Mapping[str, str] = dict(metadata or {})

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return self.message


class InvalidArgument(GaapError):
    """The request is malformed; ``field_violations`` says which fields. Nothing was stored."""


class NotFound(GaapError):
    """No such resource for your agency."""


class AlreadyExists(GaapError):
    """An idempotency key was reused with a different request, or the resource exists."""


class FailedPrecondition(GaapError):
    """The resource's state does not allow the call."""


class Unauthenticated(GaapError):
    """The access token is missing, expired or forged."""


class PermissionDenied(GaapError):
    """The access token lacks the method's scope."""


class ResourceExhausted(GaapError):
    """A rate or quota limit; ``retry_after`` (seconds) says when to try again."""


class Unavailable(GaapError):
    """The service or one of its dependencies is down; retry with the same idempotency key."""


class DeadlineExceeded(GaapError):
    """The call did not finish within its deadline; retry with the same idempotency key."""


_CLASSES: dict[grpc.StatusCode, type[GaapError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def from_rpc_error(error: grpc.RpcError) -> GaapError:
    """The typed exception for a failed call, with its ``google.rpc`` details."""
    if isinstance(error, GaapError):
        return error
    # A failed call is both an RpcError and a grpc.Call at run time; the stubs
    # cannot say so, hence the duck typing.
    call: Any = error
    is_call = callable(getattr(call, "code", None)) and callable(
        getattr(call, "trailing_metadata", None)
    )
    code: grpc.StatusCode = call.code() if is_call else grpc.StatusCode.UNKNOWN
    message = str((call.details() if is_call else str(error)) or "")
    violations: list[FieldViolation] = []
    retry_after: float | None = None
    request_id = ""
    info: error_details_pb2.ErrorInfo | None = None
    if is_call:
        for key, value in call.trailing_metadata() or ():
            if key == "x-request-id" and isinstance(value, str):
                request_id = value
        try:
            status = rpc_status.from_call(call)
        except ValueError:  # details that disagree with the code: keep code and message
            status = None
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after = retry.retry_delay.ToNanoseconds() / 1e9
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR) and info is None:
                info = error_details_pb2.ErrorInfo()  # at most one per status; the first wins
                detail.Unpack(info)
    cls = _CLASSES.get(code, GaapError)
    return cls(
        code,
        message,
        field_violations=violations,
        retry_after=retry_after,
        request_id=request_id,
        reason=info.reason if info is not None else "",
        domain=info.domain if info is not None else "",
        metadata=dict(info.metadata) if info is not None else None,
    )
