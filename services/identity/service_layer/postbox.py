"""Where use cases post citizens' messages (``adapters/postbox.py`` sends them
off the request path): a page's answer must not depend on whether a message
was sent, nor wait on a slow provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from services.identity.domain.messages import Kind


class Postbox(Protocol):
    @property
    def can_send_sms(self) -> bool:
        """Whether this deployment's messenger can text (notify can, SMTP cannot)."""
        ...

    def post(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> object: ...
