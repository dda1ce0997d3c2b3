"""The one HTTP client factory for requests to URLs an agency or operator chose.

Every client it makes:

- connects only where ``Egress`` allows: the transport resolves the host once,
  checks every address, and connects to a checked address itself, while TLS
  (SNI, certificate check) and the ``Host`` header keep the name; a name that
  rebinds to an internal address between registration and delivery is refused;
- never follows a redirect, never uses proxies from the environment, and asks
  for an unencoded body (a small compressed body cannot expand past the cap);
- under ``deadline(seconds)``, bounds the whole exchange: the name's lookup,
  every connect, TLS handshake, write and read is given only the time left, so a receiver that
  trickles a byte at a time cannot stretch an attempt;
- ``post`` reads at most ``max_body`` bytes of the answer, streamed.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import httpcore
import httpx

from services.runtime.egress import Egress, EgressRefused, ResolveTimeout

DEFAULT_MAX_BODY = 64 * 1024
HEADERS = {"accept-encoding": "identity"}

_deadline: ContextVar[float | None] = ContextVar("egress_deadline", default=None)


class RefusedConnect(httpcore.ConnectError):
    """An ``EgressRefused`` as httpcore's error, so httpx reports a ConnectError."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything the guarded clients do inside must end within ``seconds``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the deadline."""
    ends = _deadline.get()
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise error("the attempt's deadline has passed")
    return left if timeout is None else min(timeout, left)


# -- blocking (the webhook outbox) ------------------------------------------------


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._egress.resolve(host, port, _left(timeout, httpcore.ConnectTimeout))
        except EgressRefused as exc:
            raise RefusedConnect(str(exc)) from exc
        except ResolveTimeout as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            left = _left(timeout, httpcore.ConnectTimeout)
            try:
                return _Stream(
                    self._inner.connect_tcp(str(address), port, left, local_address, socket_options)
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise RefusedConnect("unix sockets are not a destination")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    def __init__(
        self, egress: Egress, *, verify: ssl.SSLContext | bool = True, connections: int = 100
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx builds its pool without a way to pass a network backend; this
        # pool is the one it would build, with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(egress),
        )


def client(
    egress: Egress,
    *,
    timeout: float,
    verify: ssl.SSLContext | bool = True,
    connections: int = 100,
) -> httpx.Client:
    """A blocking client whose every connection passes ``egress``."""
    return httpx.Client(
        transport=GuardedTransport(egress, verify=verify, connections=connections),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers=HEADERS,
    )


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes  # at most the cap
    truncated: bool  # the receiver sent more; the rest was never read


def post(
    http: httpx.Client,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    seconds: float,
    max_body: int = DEFAULT_MAX_BODY,
) -> Reply:
    """POST within ``seconds`` in all, reading at most ``max_body`` bytes back."""
    with (
        deadline(seconds),
        http.stream("POST", url, content=content, headers=dict(headers)) as response,
    ):
        return _capped(response, max_body)


def get(
    http: httpx.Client,
    url: str,
    *,
    headers: Mapping[str, str],
    seconds: float,
    max_body: int = DEFAULT_MAX_BODY,
) -> Reply:
    """GET within ``seconds`` in all, reading at most ``max_body`` bytes back."""
    with deadline(seconds), http.stream("GET", url, headers=dict(headers)) as response:
        return _capped(response, max_body)


def _capped(response: httpx.Response, max_body: int) -> Reply:
    """At most ``max_body`` bytes of the body as sent (raw: a compressed body
    must not expand past the cap); the rest is never read."""
    body, truncated = b"", False
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > max_body:
            body, truncated = body[:max_body], True
            break
    return Reply(response.status_code, body, truncated)


# -- asyncio (notify's SMS providers) ---------------------------------------------


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            # getaddrinfo blocks: off the event loop, as asyncio's own resolver
            # does, and no longer than the deadline allows.
            left = _left(timeout, httpcore.ConnectTimeout)
            addresses = await anyio.to_thread.run_sync(self._egress.resolve, host, port, left)
        except EgressRefused as exc:
            raise RefusedConnect(str(exc)) from exc
        except ResolveTimeout as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            left = _left(timeout, httpcore.ConnectTimeout)
            try:
                stream = await self._inner.connect_tcp(
                    str(address), port, left, local_address, socket_options
                )
                return _AsyncStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedConnect("unix sockets are not a destination")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self, egress: Egress, *, verify: ssl.SSLContext | bool = True, connections: int = 100
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=5.0,
            network_backend=AsyncGuardedBackend(egress),
        )


def async_client(
    egress: Egress,
    *,
    timeout: float,
    verify: ssl.SSLContext | bool = True,
    connections: int = 100,
) -> httpx.AsyncClient:
    """An asyncio client whose every connection passes ``egress``."""
    return httpx.AsyncClient(
        transport=AsyncGuardedTransport(egress, verify=verify, connections=connections),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers=HEADERS,
    )


async def apost(
    http: httpx.AsyncClient,
    url: str,
    *,
    json: Any,
    headers: Mapping[str, str],
    seconds: float,
    max_body: int = DEFAULT_MAX_BODY,
) -> Reply:
    """``post`` for asyncio; the name's resolution counts against ``seconds`` too."""
    try:
        with anyio.fail_after(seconds), deadline(seconds):
            async with http.stream("POST", url, json=json, headers=dict(headers)) as response:
                body, truncated = b"", False
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > max_body:
                        body, truncated = body[:max_body], True
                        break
                return Reply(response.status_code, body, truncated)
    except TimeoutError:
        raise httpx.TimeoutException("the attempt's deadline has passed") from None


def safe_error(exc: BaseException) -> str:
    """What an attempt's record says about ``exc``: the guard's reason, or the
    error's type; never its message (it can hold the URL, or the body)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (EgressRefused, RefusedConnect, ResolveTimeout)):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__
