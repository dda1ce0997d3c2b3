"""JSON over HTTP for agencies without gRPC: the Connect protocol's unary mapping.

``POST /<package>.<Service>/<Method>`` with ``Content-Type: application/json`` and
the request message in proto3 JSON; the answer is the response message in proto3
JSON, or a Connect error ``{"code": "invalid_argument", "message": ...,
"details": [{"type": "google.rpc.BadRequest", "value": <base64>, "debug": {...}}]}``
with Connect's HTTP status for the code. Field violations name each field the
way the request body spelled it (``returnUrl``, or ``return_url`` if the body
used the proto name): ``json_names.py``.

The gateway holds no rules of its own: it calls the service's own gRPC server
over a loopback channel, forwarding ``authorization``, ``dpop`` and ``x-request-id``, so
authentication, scopes, validation, idempotency, rate limits, errors, logs and
metrics are exactly those of gRPC.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor
from google.protobuf.message import Message
from google.rpc.error_details_pb2 import BadRequest
from grpc_status import rpc_status
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp

from services.runtime.body_limit import BodyLimit
from services.runtime.interceptors.base import VIA, VIA_HTTP
from services.runtime.json_names import as_spelled, respell_message
from services.runtime.openapi import openapi_document

MAX_BODY = 4 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0
FORWARDED = ("authorization", "dpop", "x-request-id", "traceparent", "tracestate")
JSON = "application/json"

# Connect's names and HTTP statuses for gRPC codes (connectrpc.com/docs/protocol).
CONNECT_CODES: dict[grpc.StatusCode, tuple[str, int]] = {
    grpc.StatusCode.CANCELLED: ("canceled", 499),
    grpc.StatusCode.UNKNOWN: ("unknown", 500),
    grpc.StatusCode.INVALID_ARGUMENT: ("invalid_argument", 400),
    grpc.StatusCode.DEADLINE_EXCEEDED: ("deadline_exceeded", 504),
    grpc.StatusCode.NOT_FOUND: ("not_found", 404),
    grpc.StatusCode.ALREADY_EXISTS: ("already_exists", 409),
    grpc.StatusCode.PERMISSION_DENIED: ("permission_denied", 403),
    grpc.StatusCode.RESOURCE_EXHAUSTED: ("resource_exhausted", 429),
    grpc.StatusCode.FAILED_PRECONDITION: ("failed_precondition", 400),
    grpc.StatusCode.ABORTED: ("aborted", 409),
    grpc.StatusCode.OUT_OF_RANGE: ("out_of_range", 400),
    grpc.StatusCode.UNIMPLEMENTED: ("unimplemented", 501),
    grpc.StatusCode.INTERNAL: ("internal", 500),
    grpc.StatusCode.UNAVAILABLE: ("unavailable", 503),
    grpc.StatusCode.DATA_LOSS: ("data_loss", 500),
    grpc.StatusCode.UNAUTHENTICATED: ("unauthenticated", 401),
}

# Services the gateway never exposes: they are gRPC infrastructure.
INFRASTRUCTURE = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection")


@dataclass(frozen=True)
class UnaryMethod:
    path: str  # /<package>.<Service>/<Method>
    request: type[Message]
    response: type[Message]


def unary_methods(service_names: Sequence[str]) -> list[UnaryMethod]:
    """Every unary method of the named services, from the generated descriptors."""
    pool = descriptor_pool.Default()
    found: list[UnaryMethod] = []
    for name in service_names:
        if name in INFRASTRUCTURE:
            continue
        service = pool.FindServiceByName(name)
        for method in service.methods:
            if _is_unary(method):
                found.append(
                    UnaryMethod(
                        f"/{service.full_name}/{method.name}",
                        message_factory.GetMessageClass(method.input_type),
                        message_factory.GetMessageClass(method.output_type),
                    )
                )
    return found


def _is_unary(method: MethodDescriptor) -> bool:
    return not (method.client_streaming or method.server_streaming)


class Gateway:
    """Translates Connect unary JSON calls into gRPC calls on ``target()``."""

    def __init__(
        self,
        target: Callable[[], str],
        methods: Sequence[UnaryMethod],
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._target = target
        self._credentials = credentials
        self._options = list(options)
        self.methods = {m.path: m for m in methods}
        self._channel: grpc.Channel | None = None
        self._lock = threading.Lock()

    def channel(self) -> grpc.Channel:
        # Created on first use: with port 0 the gRPC port is known only once bound.
        with self._lock:
            if self._channel is None:
                target = self._target()
                self._channel = (
                    grpc.secure_channel(target, self._credentials, self._options)
                    if self._credentials is not None
                    else grpc.insecure_channel(target, self._options)
                )
            return self._channel

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    async def handle(self, request: Request) -> Response:
        method = self.methods[request.url.path]
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            return Response(
                status_code=415, headers={"accept-post": JSON}, content="use application/json"
            )
        body = await request.body()  # at most MAX_BODY: with_json_api's BodyLimit
        try:
            message = json_format.Parse(body or b"{}", method.request())
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            return connect_error("invalid_argument", 400, f"the body is not a valid request: {exc}")
        metadata = (
            # Every value of a repeated header: two DPoP proofs are refused, not one picked.
            *((name, value) for name in FORWARDED for value in request.headers.getlist(name)),
            (VIA, VIA_HTTP),  # errors then speak of headers, not metadata
        )
        try:
            timeout = _timeout(request.headers.get("connect-timeout-ms"))
        except ValueError:
            return connect_error("invalid_argument", 400, "Connect-Timeout-Ms must be digits")
        spelled = json.loads(body or b"{}")  # valid JSON: Parse took it
        return await run_in_threadpool(self._call, method, message, metadata, timeout, spelled)

    def _call(
        self,
        method: UnaryMethod,
        message: Message,
        metadata: tuple[tuple[str, str], ...],
        timeout: float,
        spelled: Any,
    ) -> Response:
        call = self.channel().unary_unary(
            method.path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=method.response.FromString,
        )
        try:
            reply = call(message, metadata=metadata, timeout=timeout)
        except grpc.RpcError as error:
            descriptor = cast(Descriptor, method.request.DESCRIPTOR)
            return from_rpc_error(error, lambda path: as_spelled(path, descriptor, spelled))
        document = json_format.MessageToDict(reply)
        return Response(
            json.dumps(document, ensure_ascii=False, separators=(",", ":")),
            media_type=JSON,
            headers={"x-content-type-options": "nosniff", "cache-control": "no-store"},
        )


def _timeout(header: str | None) -> float:
    if header is None:
        return DEFAULT_TIMEOUT
    if not header.isdigit() or len(header) > 10:
        raise ValueError(header)
    return min(MAX_TIMEOUT, max(0.001, int(header) / 1000))


def from_rpc_error(error: grpc.RpcError, spell: Callable[[str], str] | None = None) -> Response:
    """A failed gRPC call as Connect's error JSON, details and request id kept.

    ``spell`` renames a field path the way the JSON request spelled it: field
    violations (``google.rpc.BadRequest``) and the message then name fields as
    the caller wrote them (``returnUrl``, not ``return_url``)."""
    call: Any = error  # at run time a failed call is a grpc.Call too
    code_name, status = CONNECT_CODES.get(call.code(), ("unknown", 500))
    message = str(call.details() or "")
    details: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    try:
        status_proto = rpc_status.from_call(call)
    except ValueError:
        status_proto = None
    for detail in status_proto.details if status_proto is not None else ():
        if spell is not None and detail.Is(BadRequest.DESCRIPTOR):
            message = _respell(detail, spell, message)
        type_name = detail.type_url.rpartition("/")[2]
        entry: dict[str, Any] = {
            "type": type_name,
            "value": base64.b64encode(detail.value).decode().rstrip("="),
        }
        debug = _debug(detail)
        if debug is not None:
            entry["debug"] = debug
            if type_name == "google.rpc.RetryInfo" and "retryDelay" in debug:
                seconds = float(str(debug["retryDelay"]).rstrip("s") or 0)
                headers["retry-after"] = str(max(1, round(seconds + 0.499)))
        details.append(entry)
    for key, value in call.trailing_metadata() or ():
        if key in ("x-request-id", "www-authenticate", "dpop-nonce") and isinstance(value, str):
            headers[key] = value
    return connect_error(code_name, status, message, details, headers)


def _respell(detail: Any, spell: Callable[[str], str], message: str) -> str:
    """Rename the fields of a packed ``BadRequest`` in place; ``message`` renamed alike."""
    bad = BadRequest()
    detail.Unpack(bad)
    renamed: dict[str, str] = {}
    for violation in bad.field_violations:
        renamed[violation.field] = spell(violation.field)
        violation.field = renamed[violation.field]
    detail.Pack(bad)
    return respell_message(message, renamed)


def _debug(detail: Any) -> dict[str, Any] | None:
    try:
        message_type = descriptor_pool.Default().FindMessageTypeByName(
            detail.type_url.rpartition("/")[2]
        )
    except KeyError:
        return None
    unpacked = message_factory.GetMessageClass(message_type)()
    if not detail.Unpack(unpacked):
        return None
    return json_format.MessageToDict(unpacked)


def connect_error(
    code: str,
    status: int,
    message: str,
    details: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    document: dict[str, Any] = {"code": code, "message": message}
    if details:
        document["details"] = list(details)
    return Response(
        json.dumps(document, ensure_ascii=False),
        status_code=status,
        media_type=JSON,
        headers={"x-content-type-options": "nosniff", **(headers or {})},
    )


def json_routes(
    target_provider: Callable[[], str],
    services: Sequence[Any],
    *,
    title: str = "GaaP",
    credentials: grpc.ChannelCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> list[BaseRoute]:
    """Routes for every unary method of ``services`` (full service names, or
    objects with a ``name`` such as ``GrpcService``), plus ``GET /openapi.json``.

    ``target_provider`` returns the gRPC server's address (called on first use);
    ``credentials`` (and ``options`` such as ``grpc.ssl_target_name_override``) are
    the loopback channel's when gRPC uses TLS.
    """
    names = [s if isinstance(s, str) else str(s.name) for s in services]
    gateway = Gateway(
        target_provider, unary_methods(names), credentials=credentials, options=options
    )
    document = openapi_document([n for n in names if n not in INFRASTRUCTURE], title=title)
    body = json.dumps(document, ensure_ascii=False, indent=1).encode()

    async def openapi(_: Request) -> Response:
        return Response(body, media_type=JSON, headers={"cache-control": "max-age=300"})

    routes: list[BaseRoute] = [
        Route(path, gateway.handle, methods=["POST"]) for path in gateway.methods
    ]
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    return routes


def with_json_api(app: ASGIApp, routes: Sequence[BaseRoute]) -> ASGIApp:
    """``app`` (a service's HTTP app) with the JSON routes in front of it; their
    bodies up to ``MAX_BODY`` (the app limits its own routes' bodies), a larger
    one refused as a Connect error."""
    limits = {r.path: MAX_BODY for r in routes if isinstance(r, Route)}
    return BodyLimit(
        Router(routes=list(routes), default=app), default=None, paths=limits, too_large=TOO_LARGE
    )


# What connect-go and the other Connect servers answer to a message over their
# read limit; the status stays HTTP's own 413 (the code is what a Connect
# client reads), and the connection closes: the rest of the body is never read.
TOO_LARGE = connect_error(
    "resource_exhausted",
    413,
    f"the request body is larger than {MAX_BODY} bytes",
    headers={"connection": "close"},
)
