"""Opaque page tokens for ``List`` methods (AIP-158).

A token is the last key of the previous page, base64url-encoded with a version
prefix: clients must treat it as opaque, and a token that does not decode is
``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from services.runtime.errors import FieldViolation, InvalidArgument

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_PREFIX = "v1:"


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: str | None

    @classmethod
    def parse(cls, page_size: int, page_token: str, *, maximum: int = MAX_PAGE_SIZE) -> PageRequest:
        if page_size < 0 or page_size > maximum:
            raise InvalidArgument.from_violations(
                [FieldViolation("page_size", f"must be between 0 and {maximum}")]
            )
        return cls(size=page_size or DEFAULT_PAGE_SIZE, after=decode(page_token))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_page_token: str

    @classmethod
    def from_overfetch(cls, found: Sequence[T], size: int, key: Callable[[T], str]) -> Page[T]:
        """``found`` holds up to ``size + 1`` items: the extra one says a next page exists."""
        items = found[:size]
        more = len(found) > size
        return cls(items, encode(key(items[-1])) if more and items else "")


def encode(last_key: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + last_key).encode()).decode().rstrip("=")


def decode(token: str) -> str | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith(_PREFIX):
        raise InvalidArgument.from_violations(
            [FieldViolation("page_token", "not a token from a previous response")]
        )
    return raw[len(_PREFIX) :]
