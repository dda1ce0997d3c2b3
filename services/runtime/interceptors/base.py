"""One place that knows how to wrap every kind of gRPC method handler."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError

from services.runtime.errors import InvalidArgument

Metadata = Sequence[tuple[str, str | bytes]]


if TYPE_CHECKING:
    _ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:  # grpc's classes are not generic at run time, only in grpc-stubs
    _ServerInterceptor = grpc.ServerInterceptor


class CallInterceptor(_ServerInterceptor):
    """Base for interceptors that act around each call.

    Subclasses implement ``around`` (unary responses) and may override
    ``around_stream`` (streaming responses; by default ``around`` guards the
    creation of the stream, which is where authentication happens).
    """

    def __init__(self) -> None:
        # method -> (handler, handler wrapped), for grpc's per-call hook
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    def around(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Any],
    ) -> Any:
        raise NotImplementedError

    def around_stream(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Iterator[Any]],
    ) -> Iterator[Any]:
        yield from self.around(method, metadata, context, call)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """grpc's per-call interceptor hook (used when a foreign interceptor,
        such as tracing, makes the server run grpc's pipeline): the wrapped
        handler is built once per method and reused."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]  # type: ignore[no-any-return]
        wrapped = self.wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """``handler`` with this interceptor around every call; done once per
        method when the server is built (``grpc_server.create_server``)."""
        req_de, resp_ser = handler.request_deserializer, handler.response_serializer

        if handler.unary_unary is not None:
            uu = handler.unary_unary

            def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
                metadata = context.invocation_metadata()
                if request is MALFORMED:
                    return self.around(method, metadata, context, _refuse(method))
                return self.around(method, metadata, context, lambda: uu(request, context))

            return grpc.unary_unary_rpc_method_handler(unary_unary, _tolerant(req_de), resp_ser)
        if handler.unary_stream is not None:
            us = handler.unary_stream

            def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                metadata = context.invocation_metadata()
                if request is MALFORMED:
                    return self.around_stream(method, metadata, context, _refuse(method))
                return self.around_stream(method, metadata, context, lambda: us(request, context))

            return grpc.unary_stream_rpc_method_handler(unary_stream, _tolerant(req_de), resp_ser)
        if handler.stream_unary is not None:
            su = handler.stream_unary

            def stream_unary(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
                metadata = context.invocation_metadata()
                return self.around(method, metadata, context, lambda: su(requests, context))

            return grpc.stream_unary_rpc_method_handler(stream_unary, req_de, resp_ser)
        ss = handler.stream_stream
        assert ss is not None

        def stream_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            metadata = context.invocation_metadata()
            return self.around_stream(method, metadata, context, lambda: ss(requests, context))

        return grpc.stream_stream_rpc_method_handler(stream_stream, req_de, resp_ser)


class _Malformed:
    """Stands for a request whose bytes are not a valid message."""


MALFORMED: Any = _Malformed()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """grpc answers INTERNAL when a deserializer raises; bytes that are not a valid
    message are the caller's mistake, so they reach the handler as ``MALFORMED``
    and are refused there as INVALID_ARGUMENT (after authentication)."""
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            return MALFORMED

    return parse


def _refuse(method: str) -> Callable[[], Any]:
    def refuse() -> Any:
        raise InvalidArgument(f"the request is not a valid protobuf message for {method}")

    return refuse


# The JSON gateway sets this on the calls it makes for an HTTP request, so that
# messages name what the caller sent: an HTTP header there, gRPC metadata here.
# It changes only the wording of errors; a gRPC caller that sends it gains nothing.
VIA = "x-gaap-via"
VIA_HTTP = "http"


def over_http(metadata: Metadata) -> bool:
    """The call came through the JSON gateway (Connect over HTTP)."""
    return metadata_value(metadata, VIA) == VIA_HTTP


def metadata_value(metadata: Metadata, key: str) -> str | None:
    for k, v in metadata:
        if k == key:
            return v if isinstance(v, str) else None
    return None


class Chain(CallInterceptor):
    """Several interceptors run as one: the handler is wrapped once per call, not
    once per interceptor, which measurably shortens every call."""

    def __init__(self, layers: Sequence[CallInterceptor]) -> None:
        super().__init__()
        self.layers = tuple(layers)

    def around(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Any],
    ) -> Any:
        for layer in reversed(self.layers):
            call = _bind(layer.around, method, metadata, context, call)
        return call()

    def around_stream(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Iterator[Any]],
    ) -> Iterator[Any]:
        for layer in reversed(self.layers):
            call = _bind(layer.around_stream, method, metadata, context, call)
        return call()


def _bind(
    around: Callable[..., Any],
    method: str,
    metadata: Metadata,
    context: grpc.ServicerContext,
    inner: Callable[[], Any],
) -> Callable[[], Any]:
    return lambda: around(method, metadata, context, inner)
