"""``python -m bench [NAME ...]``: run benchmarks, print one table, write latest.json."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from bench import (
    auth,
    console,
    grpc_floor,
    id_token,
    identity,
    journey,
    notify,
    payments,
    signin,
    token_endpoint,
    webhooks,
)
from bench.harness import (
    Session,
    access_log_enabled,
    bench_seconds,
    cpu_placement,
    warmup_seconds,
)
from bench.report import Figure, table, write_json

Benchmark = Callable[[Session], list[Figure]]

# In the order they run; each measures the baselines it needs if they are missing.
BENCHMARKS: dict[str, Benchmark] = {
    "floor": grpc_floor.floor,
    "floor-aio": grpc_floor.floor_aio,
    "auth": auth.auth,
    "auth-uncached": auth.auth_uncached,
    "dpop-call": auth.dpop_call,
    "token": token_endpoint.token,
    "token-dpop": token_endpoint.token_dpop,
    "identity-introspect": identity.identity_introspect,
    "signin": signin.password_signin,
    "id-token": id_token.id_token_verify,
    "payments-create": payments.payments_create,
    "payments-get": payments.payments_get,
    "notify-send": notify.notify_send,
    "notify-bulk": notify.notify_bulk,
    "notify-delivery": notify.notify_delivery,
    "webhooks": webhooks.webhooks_delivery,
    "journey": journey.journey_benchmark,
    "console": console.console_pages,
}


def parse(argv: Sequence[str]) -> list[str]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run GaaP's benchmarks and print one table. "
        "BENCH_SECONDS (default 5) sets each measured phase; BENCH_ACCESS_LOG=1 "
        "makes servers write their INFO access logs (to /dev/null).",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    chosen = set(args.names) or set(BENCHMARKS)
    return [name for name in BENCHMARKS if name in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    names = parse(sys.argv[1:] if argv is None else argv)
    seconds = bench_seconds()
    session = Session(
        seconds=seconds,
        warmup=warmup_seconds(seconds),
        access_log=access_log_enabled(),
        placement=cpu_placement(),
    )
    log = "INFO to /dev/null" if session.access_log else "WARNING (no access log lines)"
    if session.placement:
        server_cpus, client_cpus = session.placement
        pin = f"gRPC server on CPU {min(server_cpus)}, client on CPU {min(client_cpus)}"
    else:
        pin = "no CPU pinning"
    print(
        f"bench: {', '.join(names)}; {seconds:g}s measured after {session.warmup:g}s warm-up "
        f"per phase; server logs at {log}; {pin}",
        file=sys.stderr,
    )
    figures: list[Figure] = []
    for name in names:
        began = time.perf_counter()
        print(f"bench: running {name} ...", file=sys.stderr, flush=True)
        figures += BENCHMARKS[name](session)
        print(f"bench: {name} done in {time.perf_counter() - began:.0f}s", file=sys.stderr)
    print(table(figures))
    for note in session.notes:
        print(f"note: {note}")
    path = write_json(session, figures, names)
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
