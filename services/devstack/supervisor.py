"""Start processes, watch them, stop them together.

Each child runs in its own session (so Ctrl-C reaches only the supervisor, which
stops the children in order) and is tied to the supervisor's life with
``PR_SET_PDEATHSIG``: if the supervisor is killed, its children get SIGTERM
instead of being left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):  # without libc's prctl, stop_all still applies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        # argv is built from our own constants, never from user input. preexec_fn is
        # safe here: children are spawned before the supervisor starts any thread.
        process = subprocess.Popen(  # noqa: S603
            list(argv),
            env=dict(env) if env is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        child = Child(name, process)
        self.children.append(child)
        return child

    def first_exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop_all(self, grace: float) -> None:
        """SIGTERM every child, wait up to ``grace`` seconds, then SIGKILL stragglers."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                sys.stderr.write(f"{child.name} did not stop within {grace:.0f}s; killing it\n")
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
