"""What every call through the client gets: the access token, a deadline, an
idempotency key when the request takes one and none was given, retries on
UNAVAILABLE and RESOURCE_EXHAUSTED by gRPC's own retry policy (the channel's
service config, which waits what the server's ``grpc-retry-pushback-ms`` asks),
and typed exceptions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import grpc
from google.protobuf.message import Message

from gaap_client.dpop import NONCE_METADATA, DpopKey, DpopNonces
from gaap_client.errors import DeadlineExceeded, Unauthenticated, from_rpc_error

IDEMPOTENCY_FIELD = "idempotency_key"
# gRPC keeps a request for retries only up to this size (256 KiB by default); the
# platform's servers take requests up to 4 MiB (a bulk send's CSV), so keep those too.
RETRY_BUFFER_BYTES = 4 * 1024 * 1024


class Tokens(Protocol):
    """Where the bearer token comes from (``TokenSource``)."""

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


def _duration(seconds: float) -> str:
    """A service-config duration: decimal seconds with an ``s``."""
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC's retry policy (gRFC A6), set on the client's channels.

    Attempt ``n + 1`` waits about ``min(max_backoff, initial_backoff * multiplier
    ** (n - 1))`` (gRPC adds its own jitter), or exactly what the server's
    ``grpc-retry-pushback-ms`` says; a negative pushback stops the retries. gRPC
    makes at most 5 attempts whatever ``max_attempts`` says, and never retries
    past the call's deadline. Mutating calls are safe to retry: the client sends
    the same idempotency key on every attempt.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    # RESOURCE_EXHAUSTED only because the platform's servers send pushback with it
    # (services.runtime.interceptors.errors), so a retry waits out the limit.
    retry_codes: frozenset[grpc.StatusCode] = field(
        default_factory=lambda: frozenset(
            {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}
        )
    )

    @property
    def retries(self) -> bool:
        return self.max_attempts > 1 and bool(self.retry_codes)

    def service_config(self) -> dict[str, Any]:
        """The ``grpc.service_config`` document: this policy for every method."""
        method: dict[str, Any] = {"name": [{}]}
        if self.retries:
            method["retryPolicy"] = {
                "maxAttempts": self.max_attempts,
                "initialBackoff": _duration(self.initial_backoff),
                "maxBackoff": _duration(self.max_backoff),
                "backoffMultiplier": self.multiplier,
                "retryableStatusCodes": sorted(code.name for code in self.retry_codes),
            }
        return {"methodConfig": [method]}

    def channel_options(self) -> list[tuple[str, Any]]:
        return [
            ("grpc.enable_retries", int(self.retries)),
            ("grpc.service_config", json.dumps(self.service_config())),
            ("grpc.per_rpc_retry_buffer_size", RETRY_BUFFER_BYTES),
        ]


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
    """Token, deadline, idempotency key and typed errors on each unary call. The
    retries are not here: gRPC makes them below this interceptor, on channels
    opened with ``open_channel`` (the request, key included, is sent as is)."""

    def __init__(
        self,
        tokens: Tokens | None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], float] = time.monotonic,
        dpop: DpopKey | None = None,
        public_url: str = "",
        nonces: DpopNonces | None = None,
    ) -> None:
        """``dpop``: the key the tokens are bound to; each call then sends the token
        as ``DPoP <token>`` with a fresh proof for ``public_url`` + the method path
        (the service's public base URL), carrying the service's latest
        ``dpop-nonce`` (kept in ``nonces``) once it sent one."""
        if dpop is not None and not public_url:
            raise ValueError("DPoP proofs need the service's public base URL")
        self._dpop = dpop
        self._public_url = public_url.rstrip("/")
        self.nonces = nonces or DpopNonces()
        self._tokens = tokens
        self._timeout = timeout
        self.retry = retry
        self._clock = clock

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        request = with_idempotency_key(request)
        timeout = details.timeout if details.timeout is not None else self._timeout
        deadline = self._clock() + timeout
        metadata = [(k, v) for k, v in (details.metadata or ()) if k != "authorization"]
        renewed = nonce_retried = False
        while True:
            call_metadata = list(metadata)
            sent_nonce = self.nonces.get(self._public_url)
            if self._tokens is not None:
                call_metadata.extend(self._credentials(details.method, sent_nonce))
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
            fresh = self._remember_nonce(failure if failure is not None else outcome)
            if failure is None:
                return outcome
            error = from_rpc_error(failure)
            if (
                isinstance(error, Unauthenticated)
                and self._dpop is not None
                and fresh is not None
                and fresh != sent_nonce
                and not nonce_retried
            ):
                # RFC 9449 §9: the service wants a (newer) nonce in the proof; one more try.
                nonce_retried = True
                continue
            if isinstance(error, Unauthenticated) and self._tokens is not None and not renewed:
                # A token cached across an identity key rotation or a clock jump: one fresh try.
                self._tokens.invalidate()
                renewed = True
                continue
            raise error

    def _credentials(self, method: str, nonce: str | None) -> list[tuple[str, str]]:
        assert self._tokens is not None
        token = self._tokens.token()
        if self._dpop is None:
            return [("authorization", f"Bearer {token}")]
        # A fresh proof per attempt: a proof is accepted once.
        proof = self._dpop.proof("POST", self._public_url + method, token, nonce=nonce)
        return [("authorization", f"DPoP {token}"), ("dpop", proof)]

    def _remember_nonce(self, call: Any) -> str | None:
        """The ``dpop-nonce`` the service sent with this answer (its headers or
        trailers), now the one to send it; ``None`` when it sent none."""
        if self._dpop is None:
            return None
        fresh = None
        for read in ("initial_metadata", "trailing_metadata"):
            entries = getattr(call, read, None)
            for key, value in (entries() if callable(entries) else None) or ():
                if key == NONCE_METADATA and isinstance(value, str):
                    fresh = self.nonces.remember(self._public_url, value) or fresh
        return fresh


def open_channel(
    target: str,
    policy: CallPolicy,
    credentials: grpc.ChannelCredentials | None = None,
) -> grpc.Channel:
    """A channel to ``target`` with the policy's retries in its service config and
    the policy on every call."""
    options = policy.retry.channel_options()
    raw = (
        grpc.secure_channel(target, credentials, options=options)
        if credentials is not None
        else grpc.insecure_channel(target, options=options)
    )
    return grpc.intercept_channel(raw, policy)
