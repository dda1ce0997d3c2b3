"""``gaap-notify-worker``: claim queued notifications and send them.

Several may run against one database (``FOR UPDATE SKIP LOCKED`` keeps them
apart). SIGTERM or SIGINT: stop claiming, finish what is in flight, record it.
Each turn of the loop beats a heartbeat file that the liveness probe reads.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from services.notify.bootstrap import Notify, deliverer, open_notify, sms_client
from services.notify.service_layer.delivery import Deliverer
from services.notify.settings import NotifySettings
from services.runtime import config, logs, tracing
from services.runtime.errors import StartupError
from services.runtime.heartbeat import Heartbeat, heartbeat_path

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger(__name__)


async def serve(settings: NotifySettings, platform: config.PlatformSettings) -> None:
    notify = open_notify(platform, settings)
    provider = tracing.configure("notify-worker", platform)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with sms_client(notify) as http:
            worker = deliverer(notify, http)
            stop_tracing = trace_worker(notify, worker, provider)
            heartbeat = Heartbeat(heartbeat_path(platform.var_dir, "notify-worker"))
            log.info("worker started", extra={"service": "notify-worker"})
            try:
                await worker.run(stop, on_turn=heartbeat.beat)
            finally:
                stop_tracing()
    finally:
        notify.database.close()
        log.info("worker stopped")


def trace_worker(
    notify: Notify, worker: Deliverer, provider: TracerProvider | None
) -> Callable[[], None]:
    """With tracing on: a span per attempt, its statements and its SMS requests
    as children; returns what stops it (and flushes the spans)."""
    if provider is None:
        return lambda: None
    stops = [
        tracing.trace_database(notify.database.engine, notify.database.direct, provider),
        tracing.trace_outbound_http(provider),
        provider.shutdown,
    ]
    worker.tracer = provider.get_tracer("gaap.notify.worker")

    def stop() -> None:
        worker.tracer = None
        for each in stops:
            each()

    return stop


def main() -> None:
    logs.configure("notify-worker")
    try:
        platform = config.load(config.PlatformSettings)
        settings = config.load(NotifySettings)
        logging.getLogger().setLevel(platform.log_level)
        asyncio.run(serve(settings, platform))
    except StartupError as exc:
        sys.stderr.write(f"gaap-notify-worker: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
