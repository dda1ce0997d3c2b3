"""Figures, the printed table and bench/results/latest.json."""

from __future__ import annotations

import json
import math
import operator
import os
import platform as platform_info
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bench.harness import Measurement, Session

RESULTS_DIR = Path(__file__).resolve().parent / "results"
COLUMNS = ("figure", "value", "baseline", "ratio", "target", "")

Comparison = Literal[">=", "<=", "=="]
_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Target:
    """A threshold on the figure's ``value`` or on its ``ratio`` to the baseline."""

    on: Literal["value", "ratio"]
    op: Comparison
    threshold: float

    def met(self, value: float, ratio: float | None) -> bool:
        subject = ratio if self.on == "ratio" else value
        if subject is None or math.isnan(subject):
            return False
        return _COMPARE[self.op](subject, self.threshold)

    def __str__(self) -> str:
        return f"{self.on} {self.op} {_number(self.threshold)}"


@dataclass(frozen=True)
class Figure:
    """One row of the table. ``ratio`` is always ``value / baseline``."""

    benchmark: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_source: str = ""
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0 or math.isnan(self.baseline):
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value, self.ratio)

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "figure": self.name,
            "value": _json_number(self.value),
            "unit": self.unit,
            "baseline": _json_number(self.baseline),
            "baseline_source": self.baseline_source,
            "ratio": _json_number(self.ratio),
            "target": str(self.target) if self.target else None,
            "passed": self.passed,
        }


def measurement_figures(
    benchmark: str,
    name: str,
    m: Measurement,
    *,
    unit: str = "calls/s",
    per: str = "call",
    baseline: Measurement | None = None,
    baseline_source: str = "",
    rate_target: Target | None = None,
) -> list[Figure]:
    """Rate, p50, p99 and server CPU per call of one measurement."""

    def row(label: str, value: float, unit_: str, base: float | None) -> Figure:
        return Figure(benchmark, f"{name} {label}", value, unit_, base, baseline_source)

    b = baseline
    return [
        Figure(
            benchmark,
            f"{name} {unit.split('/', maxsplit=1)[0]}/s",
            m.rate,
            unit,
            b.rate if b else None,
            baseline_source,
            rate_target,
        ),
        row("p50", m.load.p50_ms, "ms", b.load.p50_ms if b else None),
        row("p99", m.load.p99_ms, "ms", b.load.p99_ms if b else None),
        row(f"server CPU/{per}", m.server_us_per_call, "µs", b.server_us_per_call if b else None),
    ]


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if float(value).is_integer():
        return f"{value:,.0f}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _json_number(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, 4)


def _with_unit(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{_number(value)} {unit}".strip()


def table(figures: Sequence[Figure]) -> str:
    rows = [COLUMNS]
    for f in figures:
        baseline = _with_unit(f.baseline, f.unit)
        if baseline and f.baseline_source:
            baseline += f" ({f.baseline_source})"
        ratio = f.ratio
        mark = {None: "", True: "PASS", False: "FAIL"}[f.passed]
        rows.append(
            (
                f.name,
                _with_unit(f.value, f.unit),
                baseline,
                "" if ratio is None else f"{ratio:.2f}",
                str(f.target) if f.target else "",
                mark,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    right = {1, 2, 3}
    lines = []
    for n, r in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def write_json(
    session: Session, figures: Sequence[Figure], benchmarks: Sequence[str], path: Path | None = None
) -> Path:
    import grpc

    path = path or RESULTS_DIR / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "benchmarks": list(benchmarks),
        "bench_seconds": session.seconds,
        "warmup_seconds": session.warmup,
        "server_log_level": "INFO (to /dev/null)" if session.access_log else "WARNING",
        "grpc_cpu_pinning": (
            {"server": sorted(session.placement[0]), "client": sorted(session.placement[1])}
            if session.placement
            else None
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "grpcio": grpc.__version__,
            "platform": platform_info.platform(),
        },
        "figures": [f.as_dict() for f in figures],
        "measurements": {k: m.as_dict() for k, m in session.measurements.items()},
        "notes": session.notes,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
