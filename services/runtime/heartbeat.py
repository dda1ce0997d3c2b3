"""Liveness for a process without a listener (notify's worker).

The process's main loop calls ``Heartbeat.beat`` on every turn; at most every
few seconds that touches a file under ``<var_dir>/run/``. The probe
(``services.runtime.probe``) calls the process alive while the file is fresh,
so a loop that hangs (a stuck provider call, a lost database lock) gets the
container restarted, where an exit code alone would never say so.
"""

from __future__ import annotations

import time
from pathlib import Path

# A loop turns at least every poll interval (notify's worker: 0.5 s); a minute
# without a turn is a hang, not a slow batch (sends time out in 10 s).
MAX_AGE_SECONDS = 60.0
BEAT_EVERY_SECONDS = 5.0


def heartbeat_path(var_dir: Path, process: str) -> Path:
    return var_dir / "run" / f"{process}.alive"


class Heartbeat:
    def __init__(self, path: Path, every: float = BEAT_EVERY_SECONDS) -> None:
        self.path = path
        self._every = every
        self._last = float("-inf")
        path.parent.mkdir(parents=True, exist_ok=True)

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        self.path.touch()  # an existing file gets the current time


def is_fresh(path: Path, max_age: float = MAX_AGE_SECONDS) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age <= max_age
