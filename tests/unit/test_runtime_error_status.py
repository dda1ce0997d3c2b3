"""Domain errors to ``google.rpc.Status``: the code, the message, and the details."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2  # type: ignore[import-untyped, unused-ignore]
from grpc_status import rpc_status

from services.runtime import errors
from services.runtime.interceptors.errors import to_status
from services.runtime.rate_limit import Limit, LocalRateLimiter

EXPECTED_CODES: dict[type[errors.DomainError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.ResourceExhausted: code_pb2.RESOURCE_EXHAUSTED,
    errors.Unavailable: code_pb2.UNAVAILABLE,
}


def instance(cls: type[errors.DomainError], message: str) -> errors.DomainError:
    if cls is errors.ResourceExhausted:
        return errors.ResourceExhausted(message, retry_after=1.0)
    return cls(message)


def all_subclasses(cls: type[errors.DomainError]) -> set[type[errors.DomainError]]:
    found: set[type[errors.DomainError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def test_every_domain_error_in_the_runtime_has_an_expected_code() -> None:
    """A new error class must get a status code (and a line in EXPECTED_CODES)."""
    defined = {c for c in all_subclasses(errors.DomainError) if c.__module__ == errors.__name__}
    assert defined == set(EXPECTED_CODES)


@pytest.mark.parametrize(
    ("cls", "code"), EXPECTED_CODES.items(), ids=lambda v: getattr(v, "__name__", "")
)
def test_each_domain_error_maps_to_its_code(cls: type[errors.DomainError], code: int) -> None:
    status = to_status(instance(cls, "what went wrong, and what to do"))
    assert status.code == code
    assert status.message == "what went wrong, and what to do"
    converted = rpc_status.to_status(status)
    assert converted.code == getattr(grpc.StatusCode, code_pb2.Code.Name(code))
    assert converted.details == "what went wrong, and what to do"


def test_subclass_of_a_domain_error_keeps_its_parents_code() -> None:
    class PaymentNotFound(errors.NotFound):
        pass

    assert to_status(PaymentNotFound("no payment pay_1")).code == code_pb2.NOT_FOUND


def test_invalid_argument_carries_a_bad_request_with_every_violation() -> None:
    error = errors.InvalidArgument.from_violations(
        [
            errors.FieldViolation("amount", "must be greater than 0"),
            errors.FieldViolation("metadata.reference", "at most 255 characters"),
        ]
    )
    status = to_status(error)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert "amount" in status.message
    assert "metadata.reference" in status.message
    assert len(status.details) == 1
    assert status.details[0].Is(error_details_pb2.BadRequest.DESCRIPTOR)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("amount", "must be greater than 0"),
        ("metadata.reference", "at most 255 characters"),
    ]


def test_invalid_argument_without_violations_has_no_details() -> None:
    status = to_status(errors.InvalidArgument("the request is malformed"))
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert len(status.details) == 0


@pytest.mark.parametrize(
    ("retry_after", "seconds", "nanos"), [(2.5, 2, 500_000_000), (30, 30, 0), (0.001, 0, 1_000_000)]
)
def test_resource_exhausted_carries_retry_info(
    retry_after: float, seconds: int, nanos: int
) -> None:
    status = to_status(errors.ResourceExhausted("rate limit reached", retry_after=retry_after))
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert len(status.details) == 1
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    assert info.retry_delay.seconds == seconds
    assert info.retry_delay.nanos == nanos


def test_a_failed_precondition_with_a_reason_carries_it_as_error_info() -> None:
    reason = errors.ErrorReason("REFUND_EXCEEDS_AVAILABLE", "payments.gaap", {"available": "7"})
    status = to_status(errors.FailedPrecondition("too much", reason))
    assert (status.code, status.message) == (code_pb2.FAILED_PRECONDITION, "too much")
    assert len(status.details) == 1
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "REFUND_EXCEEDS_AVAILABLE",
        "payments.gaap",
        {"available": "7"},
    )
    assert list(to_status(errors.FailedPrecondition("no reason")).details) == []


def test_a_request_larger_than_its_limit_is_resource_exhausted_with_no_retry_info() -> None:
    """A cost over the bucket's burst can never succeed: the limiter says so, and
    the status has no RetryInfo (an infinite delay once overflowed into UNKNOWN)."""
    limiter = LocalRateLimiter()
    with pytest.raises(errors.ResourceExhausted) as refused:
        limiter.acquire("send:ag_a", Limit(rate=1.0, burst=2.0), cost=3.0)
    assert "cannot succeed" in refused.value.message
    status = to_status(refused.value)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    assert list(status.details) == []


@pytest.mark.parametrize(
    "cls",
    [
        c
        for c in EXPECTED_CODES
        if c is not errors.InvalidArgument and c is not errors.ResourceExhausted
    ],
)
def test_other_errors_carry_no_details(cls: type[errors.DomainError]) -> None:
    assert len(to_status(cls("x")).details) == 0
