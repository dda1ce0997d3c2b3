"""Delivery receipts from SMS providers, on notify's HTTP port.

``POST /receipts/sms/{provider}`` with ``Authorization: Bearer <the provider's
key>`` (the key notify calls that provider with, compared in constant time) and
``{"id": "<provider message id>", "status": "delivered" | "permanent-failure" |
"temporary-failure"}``. A receipt for a notification already final changes
nothing (and is still acknowledged, so the provider stops retrying).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.notify.domain.statuses import RECEIPT_STATUSES

# Provider vocabularies vary; these are the words notify understands.
_ALIASES = {
    "delivered": "delivered",
    "permanent-failure": "permanent-failure",
    "undeliverable": "permanent-failure",
    "temporary-failure": "temporary-failure",
    "expired": "temporary-failure",
}

Apply = Callable[[str, str, str], bool]  # provider, message id, status -> changed


def receipt_routes(keys: Mapping[str, str], apply: Apply) -> list[Route]:
    async def receive(request: Request) -> Response:
        provider = request.path_params["provider"]
        expected = keys.get(provider)
        given = request.headers.get("authorization", "")
        if expected is None or not hmac.compare_digest(
            given.encode(), f"Bearer {expected}".encode()
        ):
            return JSONResponse(
                {"error": "unauthorized"}, 401, headers={"www-authenticate": "Bearer"}
            )
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "a JSON object is required"}, 400)
        message_id, raw = body.get("id"), body.get("status")
        status = _ALIASES.get(raw) if isinstance(raw, str) else None
        if not isinstance(message_id, str) or not message_id or status not in RECEIPT_STATUSES:
            return JSONResponse({"error": "needs id and a known status"}, 400)
        changed = await run_in_threadpool(apply, provider, message_id, status)
        return JSONResponse({"changed": changed})

    return [Route("/receipts/sms/{provider}", receive, methods=["POST"])]
