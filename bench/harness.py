"""Processes, phases, CPU accounting and percentiles shared by every benchmark.

A benchmark runs a server process and a load-generating client process, both
started with the ``spawn`` method so neither inherits the other's threads or
event loop. The client warms up, tells the parent, waits for the go signal and
runs the measured phase; the parent reads the server's CPU time from
``/proc/<pid>/stat`` just before sending go and just after the client reports,
so the CPU figure covers the measured phase only.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

SPAWN = multiprocessing.get_context("spawn")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT_SECONDS = 5.0
MAX_WARMUP_SECONDS = 1.0
START_TIMEOUT = 60.0

WARM = "warm"
GO = "go"


def bench_seconds() -> float:
    """Length of each measured phase: ``BENCH_SECONDS`` (default 5)."""
    raw = os.environ.get("BENCH_SECONDS", "")
    if not raw:
        return DEFAULT_SECONDS
    value = float(raw)
    if not 0 < value <= 600:
        raise ValueError(f"BENCH_SECONDS must be in (0, 600], got {raw!r}")
    return value


def access_log_enabled() -> bool:
    """``BENCH_ACCESS_LOG=1``: servers write their INFO access logs (to /dev/null)."""
    return os.environ.get("BENCH_ACCESS_LOG", "") not in ("", "0")


def cpu_placement() -> tuple[frozenset[int], frozenset[int]] | None:
    """CPUs for (server, client) of the gRPC benchmarks: one each, or None.

    Pinning the two processes to different CPUs keeps the scheduler from
    stacking them on one core for part of a run, which otherwise moves the
    floor by ±15% between runs. ``BENCH_PIN=0`` turns it off.
    """
    if os.environ.get("BENCH_PIN", "1") == "0":
        return None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return frozenset({available[0]}), frozenset({available[1]})


def warmup_seconds(seconds: float) -> float:
    """A short warm-up before every measured phase (one second, less for tiny runs)."""
    return min(MAX_WARMUP_SECONDS, seconds)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and all its threads, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        stat = f.read()
    # The command name (field 2) may contain spaces; the fields after it do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (``nan`` if empty)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LoadResult:
    """What a client process reports after its measured phase."""

    calls: int
    failures: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float
    exhausted: bool = False
    failure_sample: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def summarise(
        latencies: list[float],
        *,
        failures: int,
        elapsed: float,
        client_cpu_s: float,
        exhausted: bool = False,
        failure_sample: str = "",
        extra: dict[str, float] | None = None,
    ) -> LoadResult:
        latencies.sort()
        return LoadResult(
            calls=len(latencies),
            failures=failures,
            elapsed=elapsed,
            p50_ms=percentile(latencies, 50) * 1000,
            p99_ms=percentile(latencies, 99) * 1000,
            client_cpu_s=client_cpu_s,
            exhausted=exhausted,
            failure_sample=failure_sample,
            extra=extra or {},
        )


def with_warmup_failures(warm: LoadResult, measured: LoadResult) -> LoadResult:
    """Count failures of the warm-up too: every response must be right, not only timed ones."""
    if not warm.failures:
        return measured
    return replace(
        measured,
        failures=measured.failures + warm.failures,
        failure_sample=measured.failure_sample or warm.failure_sample,
    )


@dataclass(frozen=True)
class Measurement:
    """One measured phase: the client's view plus the server's CPU time."""

    label: str
    load: LoadResult
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.load.calls / self.load.elapsed if self.load.elapsed > 0 else 0.0

    @property
    def server_us_per_call(self) -> float:
        return self.server_cpu_s / self.load.calls * 1e6 if self.load.calls else math.nan

    @property
    def server_cores(self) -> float:
        """Average number of cores the server kept busy."""
        return self.server_cpu_s / self.load.elapsed if self.load.elapsed > 0 else 0.0

    @property
    def client_cores(self) -> float:
        return self.load.client_cpu_s / self.load.elapsed if self.load.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "calls": self.load.calls,
            "failures": self.load.failures,
            "elapsed_s": round(self.load.elapsed, 4),
            "rate_per_s": round(self.rate, 2),
            "p50_ms": round(self.load.p50_ms, 4),
            "p99_ms": round(self.load.p99_ms, 4),
            "server_cpu_s": round(self.server_cpu_s, 3),
            "server_us_per_call": round(self.server_us_per_call, 2),
            "server_cores": round(self.server_cores, 3),
            "client_cores": round(self.client_cores, 3),
            "exhausted": self.load.exhausted,
            "failure_sample": self.load.failure_sample,
            **{k: round(v, 3) for k, v in self.load.extra.items()},
        }


@dataclass
class Session:
    """State of one ``python -m bench`` run, shared by the benchmarks it runs."""

    seconds: float
    warmup: float
    access_log: bool = False
    placement: tuple[frozenset[int], frozenset[int]] | None = None
    measurements: dict[str, Measurement] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def record(self, key: str, measurement: Measurement) -> Measurement:
        self.measurements[key] = measurement
        if measurement.load.failures:
            self.notes.append(
                f"{measurement.label}: {measurement.load.failures} failed calls "
                f"(first: {measurement.load.failure_sample or 'n/a'})"
            )
        if measurement.load.exhausted:
            self.notes.append(
                f"{measurement.label}: the client ran out of pre-generated credentials; "
                "the phase ended early (rates use the real elapsed time)"
            )
        if measurement.client_cores > 0.9:
            self.notes.append(
                f"{measurement.label}: the client process used {measurement.client_cores:.0%} "
                "of a core, so this figure may be limited by the client, not the server"
            )
        return measurement


# --- processes ---------------------------------------------------------------

ServerTarget = Callable[..., None]
ClientTarget = Callable[..., None]


class ServerProcess:
    """A server in its own process; ``info`` is what it sent once ready."""

    def __init__(self, process: Any, info: dict[str, Any], stop: Event) -> None:
        self.process = process
        self.info = info
        self._stop = stop

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None
        return int(pid)

    def stop(self) -> None:
        self._stop.set()
        self.process.join(15)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def _pinned(cpus: frozenset[int] | None, target: Callable[..., None], *args: Any) -> None:
    """Child entry point: set the CPU affinity before any thread exists, then run."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    target(*args)


@contextmanager
def server_process(
    target: ServerTarget, *args: Any, cpus: frozenset[int] | None = None
) -> Iterator[ServerProcess]:
    """Run ``target(conn, stop_event, *args)`` in a spawned process until the block ends.

    The target sends one dict (its port and anything else the client needs) on
    ``conn`` once it serves, then waits for ``stop_event``. ``cpus``: pin it there.
    """
    parent, child = SPAWN.Pipe()
    stop = SPAWN.Event()
    process = SPAWN.Process(target=_pinned, args=(cpus, target, child, stop, *args), daemon=True)
    process.start()
    child.close()
    server: ServerProcess | None = None
    try:
        if not parent.poll(START_TIMEOUT):
            raise RuntimeError(f"{target.__name__} did not start within {START_TIMEOUT:.0f}s")
        try:
            info = parent.recv()
        except EOFError:
            process.join(5)
            info = f"the process exited with code {process.exitcode}"
        if not isinstance(info, dict):
            raise RuntimeError(f"{target.__name__} failed to start: {info!r}")
        server = ServerProcess(process, info, stop)
        yield server
    finally:
        if server is not None:
            server.stop()
        else:
            stop.set()
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
        parent.close()


def measure(
    label: str,
    server: ServerProcess,
    client: ClientTarget,
    *args: Any,
    timeout: float,
    cpus: frozenset[int] | None = None,
) -> Measurement:
    """Run ``client(conn, *args)`` in a spawned process (pinned to ``cpus``) against ``server``.

    The client sends ``WARM`` after its warm-up, runs the measured phase on
    ``GO`` and sends back a ``LoadResult``. The server's CPU time is read right
    before ``GO`` and right after the result arrives.
    """
    parent, child = SPAWN.Pipe()
    process = SPAWN.Process(target=_pinned, args=(cpus, client, child, *args), daemon=True)
    process.start()
    child.close()
    try:
        _expect(parent, WARM, timeout, label)
        before = cpu_seconds(server.pid)
        parent.send(GO)
        result = _expect(parent, None, timeout, label)
        after = cpu_seconds(server.pid)
        if not isinstance(result, LoadResult):
            raise RuntimeError(f"{label}: client failed: {result!r}")
        process.join(15)
    finally:
        if process.is_alive():
            process.terminate()
            process.join(5)
        parent.close()
    return Measurement(label=label, load=result, server_cpu_s=after - before)


def _expect(conn: Connection, wanted: str | None, timeout: float, label: str) -> Any:
    if not conn.poll(timeout):
        raise RuntimeError(f"{label}: the client did not answer within {timeout:.0f}s")
    try:
        message = conn.recv()
    except EOFError:
        raise RuntimeError(f"{label}: the client process died") from None
    if wanted is not None and message != wanted:
        raise RuntimeError(f"{label}: client failed: {message!r}")
    return message


def client_phases(conn: Connection) -> None:
    """Client side of the handshake: report the warm-up done, wait for go."""
    conn.send(WARM)
    message = conn.recv()
    if message != GO:
        raise RuntimeError(f"unexpected message from the parent: {message!r}")


def describe(exc: BaseException) -> str:
    """What a child process sends its parent instead of a result when it fails."""
    return f"{type(exc).__name__}: {exc}"


def phase_timeout(seconds: float, warmup: float, preparation: float = 60.0) -> float:
    """How long the parent waits for one client message before giving up."""
    return preparation + warmup + seconds * 3
