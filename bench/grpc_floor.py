"""``floor`` and ``floor-aio``: what an empty RPC costs on each server flavour."""

from __future__ import annotations

from bench import grpc_load
from bench.grpc_load import ClientConfig, ServerConfig
from bench.harness import Measurement, Session, measure, phase_timeout, server_process
from bench.report import Figure, measurement_figures

DEFAULT_WORKERS = 8  # GAAP_GRPC_MAX_WORKERS today
WORKER_SWEEP = (4, 8, 16, 32)
NOISE = 0.10  # run-to-run spread of the floor on the shared 2-core box is about ±10%


def run_grpc(
    session: Session, key: str, server: ServerConfig, client: ClientConfig | None = None
) -> Measurement:
    """Start ``server``, load it with ``client`` and record the measurement as ``key``."""
    client = client or ClientConfig(seconds=session.seconds, warmup=session.warmup)
    server_cpus, client_cpus = session.placement or (None, None)
    with server_process(grpc_load.serve, server, cpus=server_cpus) as running:
        target = f"127.0.0.1:{running.info['port']}"
        timeout = phase_timeout(session.seconds, session.warmup)
        m = measure(
            server.describe(),
            running,
            grpc_load.load,
            target,
            client,
            timeout=timeout,
            cpus=client_cpus,
        )
    return session.record(key, m)


def floor_measurement(session: Session) -> Measurement:
    """The baseline of this run: thread-pool server, default workers, no interceptors."""
    found = session.measurements.get("floor")
    if found is None:
        found = run_grpc(
            session,
            "floor",
            ServerConfig(max_workers=DEFAULT_WORKERS, access_log=session.access_log),
        )
    return found


def floor(session: Session) -> list[Figure]:
    m = floor_measurement(session)
    return measurement_figures("floor", f"floor (threads, {DEFAULT_WORKERS} workers)", m)


def floor_aio(session: Session) -> list[Figure]:
    base = floor_measurement(session)
    source = f"threads/{DEFAULT_WORKERS}"
    measured: dict[str, Measurement] = {
        "grpc.aio": run_grpc(
            session, "floor-aio", ServerConfig(kind="aio", access_log=session.access_log)
        ),
    }
    for workers in WORKER_SWEEP:
        label = f"threads/{workers}"
        if workers == DEFAULT_WORKERS:
            measured[label] = base
        else:
            measured[label] = run_grpc(
                session,
                f"floor-threads-{workers}",
                ServerConfig(max_workers=workers, access_log=session.access_log),
            )

    figures = measurement_figures(
        "floor-aio",
        "floor-aio (grpc.aio)",
        measured["grpc.aio"],
        baseline=base,
        baseline_source=source,
    )
    for label, m in measured.items():
        if label == "grpc.aio":
            continue
        figures.append(
            Figure("floor-aio", f"floor {label} calls/s", m.rate, "calls/s", base.rate, source)
        )
        figures.append(
            Figure(
                "floor-aio",
                f"floor {label} server CPU/call",
                m.server_us_per_call,
                "µs",
                base.server_us_per_call,
                source,
            )
        )
    session.notes.append(_verdict(measured))
    return figures


def _verdict(measured: dict[str, Measurement]) -> str:
    ranked = sorted(measured.items(), key=lambda item: item[1].rate, reverse=True)
    (best, best_m), (second, second_m) = ranked[0], ranked[1]
    margin = best_m.rate / second_m.rate - 1 if second_m.rate else float("inf")
    cheapest = min(measured.items(), key=lambda item: item[1].server_us_per_call)
    closeness = (
        f"within noise (+{margin:.1%} over {second})"
        if margin < NOISE
        else f"+{margin:.1%} over {second}"
    )
    return (
        f"fastest gRPC server: {best} at {best_m.rate:,.0f} calls/s, {closeness}; "
        f"least server CPU per call: {cheapest[0]} ({cheapest[1].server_us_per_call:.0f} µs)"
    )
