"""The position a page of templates or notifications ends at (newest first)."""

from __future__ import annotations

from datetime import datetime


def page_key(created_at: datetime, item_id: str) -> str:
    return f"{created_at.isoformat()}|{item_id}"


def after(key: str) -> tuple[datetime, str]:
    """The creation time and id a ``page_key`` names."""
    stamp, _, last_id = key.partition("|")
    return datetime.fromisoformat(stamp), last_id
