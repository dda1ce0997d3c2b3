"""What every call through the client gets: the access token, a deadline, an
idempotency key when the request takes one and none was given, retries with
backoff and jitter on UNAVAILABLE and RESOURCE_EXHAUSTED (waiting at least what
``google.rpc.RetryInfo`` asks), and typed exceptions."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc
from google.protobuf.message import Message

from gaap_client.errors import DeadlineExceeded, Unauthenticated, from_rpc_error
from gaap_client.tokens import TokenSource

IDEMPOTENCY_FIELD = "idempotency_key"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits a random time up to
    ``min(max_backoff, initial_backoff * multiplier ** (n - 1))``, and never less
    than the server's ``RetryInfo``. A retry that would pass the call's deadline is
    not made."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    retry_codes: frozenset[grpc.StatusCode] = field(
        default_factory=lambda: frozenset(
            {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}
        )
    )

    def delay(self, attempt: int, retry_after: float | None, rand: random.Random) -> float:
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        jittered = rand.uniform(0, cap)
        if retry_after is not None:
            # The server said when; a little jitter keeps clients from returning together.
            return retry_after + jittered / 4
        return jittered


NO_RETRIES = RetryPolicy(max_attempts=1)


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


def with_idempotency_key(request: Any) -> Any:
    """A copy of ``request`` with a fresh key, if it takes one and has none."""
    if not isinstance(request, Message):
        return request
    if IDEMPOTENCY_FIELD not in request.DESCRIPTOR.fields_by_name:
        return request
    if getattr(request, IDEMPOTENCY_FIELD):
        return request
    keyed = type(request)()
    keyed.CopyFrom(request)
    setattr(keyed, IDEMPOTENCY_FIELD, "gk_" + uuid.uuid4().hex)
    return keyed


if TYPE_CHECKING:
    _Interceptor = grpc.UnaryUnaryClientInterceptor[Any, Any]
else:  # not subscriptable at run time
    _Interceptor = grpc.UnaryUnaryClientInterceptor


class CallPolicy(_Interceptor):
    def __init__(
        self,
        tokens: TokenSource | None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        rand: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self._rand = rand or random.Random()  # noqa: S311 - jitter, not secrecy
        self._clock = clock

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        request = with_idempotency_key(request)
        timeout = details.timeout if details.timeout is not None else self._timeout
        deadline = self._clock() + timeout
        metadata = [(k, v) for k, v in (details.metadata or ()) if k != "authorization"]
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            call_metadata = list(metadata)
            if self._tokens is not None:
                call_metadata.append(("authorization", f"Bearer {self._tokens.token()}"))
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DeadlineExceeded(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    "the deadline passed before the call was made",
                )
            outcome = continuation(
                _Details(
                    details.method,
                    remaining,
                    call_metadata,
                    details.credentials,
                    details.wait_for_ready,
                    details.compression,
                ),
                request,
            )
            failure = outcome.exception()
            if failure is None:
                return outcome
            error = from_rpc_error(failure)
            if isinstance(error, Unauthenticated) and self._tokens is not None and not renewed:
                # A token cached across an identity key rotation or a clock jump: one fresh try.
                self._tokens.invalidate()
                renewed = True
                continue
            if error.status not in self._retry.retry_codes or attempt >= self._retry.max_attempts:
                raise error
            wait = self._retry.delay(attempt, error.retry_after, self._rand)
            if self._clock() + wait >= deadline:
                raise error
            self._sleep(wait)
