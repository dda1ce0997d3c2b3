"""Domain errors to gRPC status codes, with ``google.rpc`` details.

Unexpected exceptions are logged here with their traceback and reach the caller
only as INTERNAL with the request id, never with the exception text.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc
import psycopg
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy.exc import DataError, OperationalError

from services.runtime import context as call_context
from services.runtime import errors
from services.runtime.dpop_nonce import NONCE_METADATA, UseDpopNonce
from services.runtime.interceptors.base import CallInterceptor, Metadata

log = logging.getLogger(__name__)

_CODES: dict[type[errors.DomainError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
}


def to_status(error: errors.DomainError) -> status_pb2.Status:
    code = next(
        (c for cls, c in _CODES.items() if isinstance(error, cls)), code_pb2.FAILED_PRECONDITION
    )
    status = status_pb2.Status(code=code, message=error.message)
    if isinstance(error, errors.InvalidArgument) and error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        status.details.append(_pack(bad))
    if isinstance(error, errors.FailedPrecondition) and error.reason is not None:
        info = error_details_pb2.ErrorInfo(
            reason=error.reason.reason,
            domain=error.reason.domain,
            metadata=dict(error.reason.metadata),
        )
        status.details.append(_pack(info))
    if isinstance(error, errors.ResourceExhausted) and math.isfinite(error.retry_after):
        # No RetryInfo for a request that can never fit the limit (retry_after inf).
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after * 1e9))
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status


def retry_pushback(retry_after: float, time_remaining: float | None) -> str:
    """``grpc-retry-pushback-ms`` (gRFC A6) for a ``RetryInfo`` delay: clients with a
    gRPC retry policy (gaap_client's) wait exactly this long before retrying. A
    negative value says "do not retry": sent when the wait would outlast the
    caller's deadline, so the caller fails now and reads the delay from RetryInfo."""
    if not math.isfinite(retry_after) or (
        time_remaining is not None and retry_after >= time_remaining
    ):
        return "-1"
    return str(max(0, math.ceil(retry_after * 1000)))


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


class ErrorInterceptor(CallInterceptor):
    def around(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Any],
    ) -> Any:
        try:
            return call()
        except Exception as exc:
            _abort(context, exc)

    def around_stream(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Iterator[Any]],
    ) -> Iterator[Any]:
        try:
            yield from call()
        except Exception as exc:
            _abort(context, exc)


def _abort(context: grpc.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, errors.DomainError):
        status = to_status(exc)
    elif isinstance(exc, OperationalError | psycopg.OperationalError):
        # psycopg's own error reaches here from code that checks connections out of
        # the pool by hand (raw_connection): a refused connection is not a bug.
        cause = exc.orig if isinstance(exc, OperationalError) else exc
        log.warning("database unavailable: %s", type(cause).__name__)
        status = status_pb2.Status(
            code=code_pb2.UNAVAILABLE, message="the service's database is unavailable; retry"
        )
    elif isinstance(exc, DataError | psycopg.DataError):
        # The database refused a value the request carried (a NUL character in
        # text, a number out of range): the caller's input, not our bug.
        log.warning("database refused a value: %s", type(exc).__name__)
        status = status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT,
            message="a value in the request cannot be stored (for example a NUL character)",
        )
    elif _invalid_well_known_value(exc):
        status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(exc)[:200])
    elif context.code() not in (None, grpc.StatusCode.OK):  # type: ignore[attr-defined]
        raise exc  # the servicer already aborted with a status of its own
    else:
        log.exception("unexpected error")
        status = status_pb2.Status(
            code=code_pb2.INTERNAL, message=f"internal error (request id {_request_id()})"
        )
    grpc_status = rpc_status.to_status(status)
    trailers = (*grpc_status.trailing_metadata, ("x-request-id", _request_id()))
    if isinstance(exc, errors.ResourceExhausted):
        pushback = retry_pushback(exc.retry_after, context.time_remaining())
        trailers = (*trailers, ("grpc-retry-pushback-ms", pushback))
    if isinstance(exc, errors.Unauthenticated) and exc.challenge:
        trailers = (*trailers, ("www-authenticate", exc.challenge))
    if isinstance(exc, UseDpopNonce):  # RFC 9449 §9: the nonce to sign the retry with
        trailers = (*trailers, (NONCE_METADATA, exc.nonce))
    context.set_trailing_metadata(trailers)
    context.abort(grpc_status.code, grpc_status.details)


def _invalid_well_known_value(exc: Exception) -> bool:
    """protobuf's own check of a Timestamp or Duration (seconds or nanos out of
    range) failed while a servicer converted a request field."""
    if not isinstance(exc, ValueError | OverflowError) or exc.__traceback__ is None:
        return False
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return "well_known_types" in tb.tb_frame.f_code.co_filename


def _request_id() -> str:
    call = call_context.current_call.get()
    return call.request_id if call is not None else ""
