"""Errors a domain raises, free of any transport.

The gRPC layer maps each class to a status code (see ``interceptors.errors``) and
the HTTP layer to a status; the domain only says what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: ``field`` is a path such as ``metadata.key``."""

    field: str
    description: str


class DomainError(Exception):
    """Base class: the message is shown to the caller, so it must be safe and actionable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """The request is malformed; nothing was stored or sent."""

    def __init__(self, message: str, violations: Iterable[FieldViolation] = ()) -> None:
        super().__init__(message)
        self.violations = tuple(violations)

    @classmethod
    def from_violations(cls, violations: Iterable[FieldViolation]) -> InvalidArgument:
        found = tuple(violations)
        fields = ", ".join(v.field for v in found)
        return cls(f"invalid request: check {fields}", found)


class NotFound(DomainError):
    """The resource does not exist, or belongs to another tenant."""


class AlreadyExists(DomainError):
    """The resource (or an idempotency key) is taken."""


@dataclass(frozen=True, slots=True)
class ErrorReason:
    """Why a call failed, for programs rather than people: ``google.rpc.ErrorInfo``.

    ``reason`` is UPPER_SNAKE_CASE and stable, ``domain`` names the service that
    defines it, and ``metadata`` carries the figures a caller acts on (every value
    as text, as ``ErrorInfo`` has it), so nobody parses the message.
    """

    reason: str
    domain: str
    metadata: Mapping[str, str] = field(default_factory=dict)


class FailedPrecondition(DomainError):
    """The resource is not in a state that allows the operation; ``reason``, when
    given, says why in a form a program can read (sent as ``google.rpc.ErrorInfo``)."""

    def __init__(self, message: str, reason: ErrorReason | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class Unauthenticated(DomainError):
    """No credentials, or credentials that do not verify. ``challenge``: the
    ``WWW-Authenticate`` value for HTTP callers (sent as that trailing metadata)."""

    def __init__(self, message: str, challenge: str | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge


class PermissionDenied(DomainError):
    """Authenticated, but not allowed to do this."""


class ResourceExhausted(DomainError):
    """A rate or quota limit was reached; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency is down; the same request may succeed later."""


class StartupError(Exception):
    """Configuration or environment that stops a process from starting.

    ``main`` prints the message as one line and exits non-zero, without a traceback.
    """
