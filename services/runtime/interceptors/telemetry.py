"""Request ids, one JSON access-log line per call, and Prometheus metrics.

Metric names follow the go-grpc-prometheus convention so that existing
dashboards work: ``grpc_server_started_total``, ``grpc_server_handled_total``
(by code: errors by code) and ``grpc_server_handling_seconds``.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from services.runtime import context as call_context
from services.runtime.interceptors.base import CallInterceptor, Metadata, metadata_value

log = logging.getLogger("gaap.access")

_LABELS = ("grpc_service", "grpc_method", "grpc_type")
STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", _LABELS)
HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    (*_LABELS, "grpc_code"),
)
LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "Time from receiving an RPC to sending its status.",
    _LABELS,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Request ids this process makes: a random process prefix and a counter. They
# need to be unique, not secret; a uuid4 per call cost a system call (urandom).
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(1)


class _MethodMetrics:
    __slots__ = ("handled", "labels", "latency", "started")

    def __init__(self, method: str, kind: str) -> None:
        _, _, rest = method.partition("/")
        service, _, name = rest.partition("/")
        self.labels = (service, name, kind)
        self.started = STARTED.labels(*self.labels)
        self.latency = LATENCY.labels(*self.labels)
        self.handled: dict[str, Any] = {}

    def done(self, code: str, seconds: float) -> None:
        counter = self.handled.get(code)
        if counter is None:
            counter = self.handled[code] = HANDLED.labels(*self.labels, code)
        counter.inc()
        self.latency.observe(seconds)


class TelemetryInterceptor(CallInterceptor):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._metrics: dict[tuple[str, str], _MethodMetrics] = {}

    def _method_metrics(self, method: str, kind: str) -> _MethodMetrics:
        found = self._metrics.get((method, kind))
        if found is None:
            found = self._metrics[(method, kind)] = _MethodMetrics(method, kind)
        return found

    def around(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Any],
    ) -> Any:
        metrics = self._method_metrics(method, "unary")
        metrics.started.inc()
        request_id = _request_id(metadata)
        token = call_context.current_call.set(call_context.Call(request_id, method))
        # The request id goes back to the caller only with errors (ErrorInterceptor):
        # a trailer on every success costs about as much as the rest of this chain.
        start = time.perf_counter()
        try:
            return call()
        finally:
            self._finish(metrics, method, context, start)
            call_context.current_call.reset(token)

    def around_stream(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Iterator[Any]],
    ) -> Iterator[Any]:
        metrics = self._method_metrics(method, "stream")
        metrics.started.inc()
        state = call_context.Call(request_id=_request_id(metadata), method=method)
        start = time.perf_counter()
        try:
            token = call_context.current_call.set(state)
            try:
                iterator = call()
            finally:
                call_context.current_call.reset(token)
            yield from iterator
        finally:
            token = call_context.current_call.set(state)
            self._finish(metrics, method, context, start)
            call_context.current_call.reset(token)

    def _finish(
        self,
        metrics: _MethodMetrics,
        method: str,
        context: grpc.ServicerContext,
        start: float,
    ) -> None:
        elapsed = time.perf_counter() - start
        status = context.code()  # type: ignore[attr-defined]
        code = "OK" if status is None else status.name
        metrics.done(code, elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "rpc",
                extra={"method": method, "code": code, "duration_ms": round(elapsed * 1000, 3)},
            )


def _request_id(metadata: Metadata) -> str:
    given = metadata_value(metadata, "x-request-id")
    if given is not None and _REQUEST_ID.match(given):
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"
