"""Structured JSON logs on stderr.

Every record carries the service name and, inside a call, the request id and the
calling agency and, when a client acts for it (token exchange), that client
(from ``context``). Nothing here ever logs request bodies or
metadata, so tokens, passwords and card numbers cannot reach a log line.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from services.runtime import context

# Defence in depth: nothing should log credentials, but if a library ever does,
# these patterns (JWTs, GaaP client secrets, bearer headers) are masked.
_SECRETS = re.compile(
    r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
    r"|gaap_(?:test|live)_[A-Za-z0-9_-]{16,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{16,}"
)


# A database error's text quotes the values it was about: PostgreSQL's DETAIL
# (``Key (email)=(...)``, ``Failing row contains (...)``) and CONTEXT (a COPY
# line), and SQLAlchemy's ``[parameters: ...]`` (engines hide them, but an
# engine made elsewhere may not). Each such line keeps its label, loses its text.
_DATABASE_VALUES = re.compile(r"(?m)^(\s*)(DETAIL|CONTEXT|\[parameters):.*$")


def scrub(text: str) -> str:
    """``text`` without credentials or the values a database error quotes."""
    return _SECRETS.sub("[redacted]", _DATABASE_VALUES.sub(r"\1\2: [redacted]", text))


class RedactingJsonFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Every field (message, exc_info, extras) before it is serialised, so a
        # multi-line traceback is scrubbed line by line.
        return {k: scrub(v) if isinstance(v, str) else v for k, v in log_data.items()}

    def format(self, record: logging.LogRecord) -> str:
        return _SECRETS.sub("[redacted]", super().format(record))


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        call = context.current_call.get()
        if call is not None:
            record.request_id = call.request_id
            if call.principal is not None:
                record.client_id = call.principal.client_id
                if call.principal.actor is not None:
                    record.actor = call.principal.actor
        return True


def configure(service: str, level: str = "INFO") -> None:
    """Send every log record, ours and our libraries', as one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingJsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter that would repeat what our own access logs say.
    for noisy in ("uvicorn.access", "httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # authlib logs issued tokens at DEBUG: never let that through.
    logging.getLogger("authlib").setLevel(logging.WARNING)
