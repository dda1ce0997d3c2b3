"""Sending citizens' messages off the request path.

A page's answer must not depend on whether a message was sent (that would tell
an observer whether an address has an account), nor wait on a slow provider. A
failed send is logged by message kind only: never the address, code or link.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from services.identity.domain.messages import Kind, Messenger

log = logging.getLogger(__name__)


class Postbox:
    def __init__(self, messenger: Messenger, *, workers: int = 2, can_send_sms: bool) -> None:
        self._messenger = messenger
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="identity-mail")
        self.can_send_sms = can_send_sms

    def post(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> Future[None]:
        return self._pool.submit(self._send, kind, to, language, dict(values))

    def _send(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> None:
        try:
            self._messenger.send(kind, to, language, values)
        except Exception as exc:
            log.warning(
                "identity message not sent", extra={"kind": kind.value, "error": type(exc).__name__}
            )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
