"""Background jobs that run every so often inside a service process.

Each job runs on its own daemon thread, first after one interval, and stops when
the service stops. A failing run is logged and retried at the next interval.
``wake`` runs a job now, without waiting for its interval (an outbox that has
just been written to), and the interval still catches what a wake-up missed.
Jobs must be safe when several replicas run them at once (use
``db.advisory_lock`` or idempotent statements).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class PeriodicJob:
    name: str
    interval_seconds: float
    run: Callable[[], object]
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"job-{self.name}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run as soon as the current run (if any) ends; several wake-ups before
        then make one run."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run()
            except Exception:
                log.exception("background job failed", extra={"job": self.name})
