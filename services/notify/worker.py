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

import httpx

from services.notify.bootstrap import deliverer, open_notify
from services.notify.settings import NotifySettings
from services.runtime import config, logs
from services.runtime.errors import StartupError
from services.runtime.heartbeat import Heartbeat, heartbeat_path

log = logging.getLogger(__name__)


async def serve(settings: NotifySettings, platform: config.PlatformSettings) -> None:
    notify = open_notify(platform, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            worker = deliverer(notify, http)
            heartbeat = Heartbeat(heartbeat_path(platform.var_dir, "notify-worker"))
            log.info("worker started", extra={"service": "notify-worker"})
            await worker.run(stop, on_turn=heartbeat.beat)
    finally:
        notify.database.close()
        log.info("worker stopped")


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
