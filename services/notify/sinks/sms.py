"""A local SMS gateway for ``make run``: every message lands in ``var/sms/*.json``.

It speaks the provider API notify's HTTP SMS client uses (adapters/sms_http.py):
``POST /messages`` with a bearer key, answers with an id, then posts a
"delivered" receipt to the message's ``status_callback`` with the same key, as
a real provider would. Listens where the first configured provider points.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.notify.settings import NotifySettings
from services.runtime import config
from services.runtime.errors import StartupError
from services.runtime.http import HttpServer, bind


def gateway_app(directory: Path, keys: Sequence[str], send_receipts: bool = True) -> Starlette:
    directory.mkdir(parents=True, exist_ok=True)
    pending: set[asyncio.Task[None]] = set()

    async def receipt(url: str, key: str, message_id: str) -> None:
        await asyncio.sleep(0.05)
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(5):
                try:
                    response = await client.post(
                        url,
                        json={"id": message_id, "status": "delivered"},
                        headers={"authorization": f"Bearer {key}"},
                    )
                    if response.status_code < 500:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1)

    async def messages(request: Request) -> Response:
        given = request.headers.get("authorization", "")
        key = next(
            (k for k in keys if hmac.compare_digest(given.encode(), f"Bearer {k}".encode())), None
        )
        if key is None:
            return JSONResponse({"error": "unauthorized"}, 401)
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if (
            not isinstance(body, dict)
            or not body.get("to")
            or not isinstance(body.get("body"), str)
        ):
            return JSONResponse({"error": "bad_request"}, 400)
        message_id = "sms-" + uuid.uuid4().hex
        record = {"id": message_id, "received_at": time.time(), **body}
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{message_id}.json"
        tmp = directory / (name + ".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, directory / name)
        callback = body.get("status_callback")
        if send_receipts and isinstance(callback, str) and callback.startswith("http"):
            task = asyncio.get_running_loop().create_task(receipt(callback, key, message_id))
            pending.add(task)
            task.add_done_callback(pending.discard)
        return JSONResponse({"id": message_id}, 201)

    return Starlette(routes=[Route("/messages", messages, methods=["POST"])])


def main() -> None:
    try:
        platform = config.load(config.PlatformSettings)
        settings = config.load(NotifySettings)
    except StartupError as exc:
        sys.stderr.write(f"notify sms gateway: {exc}\n")
        raise SystemExit(2) from None
    providers = settings.sms_provider_list()
    where = urlsplit(str(providers[0]["url"]))
    try:
        sock = bind(f"{where.hostname}:{where.port or 80}")
    except StartupError as exc:
        sys.stderr.write(f"notify sms gateway: {exc}\n")
        raise SystemExit(2) from None
    app = gateway_app(platform.var_dir / "sms", [str(p["key"]) for p in providers])
    server = HttpServer(app, sock)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(2)


if __name__ == "__main__":
    main()
