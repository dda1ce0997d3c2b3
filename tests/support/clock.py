"""A clock tests can move forward: real UTC plus an offset.

identity takes it where a test must see time pass (auth_time has a resolution of
one second) without sleeping; it only ever moves forward, so whatever else runs
on the same server sees time as it would in production, a little later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SteppingClock:
    def __init__(self) -> None:
        self._offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> None:
        if by < timedelta():
            raise ValueError("a SteppingClock only moves forward")
        self._offset += by
