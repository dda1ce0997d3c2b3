"""Request bodies no larger than the route needs, enforced while they arrive.

Checking ``len(await request.body())`` means the whole body is already in
memory (and, chunked, of any size). ``BodyLimit`` refuses with 413 before the
app runs when ``Content-Length`` is too big, and otherwise counts the bytes as
the app receives them, stopping the request at the first byte over the limit.
Every HTTP app gets it: ``build_app`` (forms, webhooks, receipts) and the JSON
gateway (``with_json_api``), which answers in its own error format.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_BYTES = 64 * 1024  # what a citizen's form or an OAuth request needs
# The connection closes: the rest of the body is never read.
TOO_LARGE = PlainTextResponse(
    "the request body is too large", status_code=413, headers={"connection": "close"}
)


class BodyTooLarge(Exception):
    """The body passed its limit while being read (deliberately no ValueError,
    which handlers catch to answer 400)."""


class BodyLimit:
    """Pure ASGI middleware: at most ``paths[path]`` bytes for the listed paths
    (exact, or a prefix ending in ``/``), ``default`` for the others (None: no
    limit here, an inner app sets its own). ``too_large`` answers a refused
    request (a 413 that closes the connection)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int | None,
        paths: Mapping[str, int] | None = None,
        too_large: ASGIApp = TOO_LARGE,
    ) -> None:
        self.app = app
        self.default = default
        self.too_large = too_large
        self.paths = dict(paths or {})
        self._prefixes = sorted((p for p in self.paths if p.endswith("/")), key=len, reverse=True)

    def limit(self, path: str) -> int | None:
        if path in self.paths:
            return self.paths[path]
        for prefix in self._prefixes:
            if path.startswith(prefix):
                return self.paths[prefix]
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self.too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self.too_large(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
