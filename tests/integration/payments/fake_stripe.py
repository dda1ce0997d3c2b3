"""A local HTTP server speaking enough of Stripe's wire format (form-encoded
requests, JSON objects and errors, Idempotency-Key replays) for the adapter."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

DECLINED = "4000000000000002"
EXPIRED = "4000000000000069"


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str
    authorization: str


class FakeStripe:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.refund_status = "succeeded"
        self.capture_shortfall = 0  # a misbehaving provider: captures this much less
        self._replies: dict[str, tuple[int, dict[str, Any]]] = {}
        self._intents: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                params = dict(parse_qsl(body))
                key = self.headers.get("Idempotency-Key", "")
                call = Call("POST", self.path, params, key, self.headers.get("Authorization", ""))
                status, reply = fake.handle(call)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", "req_test")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def intents_for(self, payment_id: str) -> list[dict[str, Any]]:
        """The PaymentIntents created for a GaaP payment, as the server holds them now."""
        with self._lock:
            return [
                dict(i)
                for i in self._intents.values()
                if i["metadata"]["gaap_payment_id"] == payment_id
            ]

    def handle(self, call: Call) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append(call)
            if call.idempotency_key and call.idempotency_key in self._replies:
                return self._replies[call.idempotency_key]
            reply = self._route(call)
            if call.idempotency_key:
                self._replies[call.idempotency_key] = reply
            return reply

    def _route(self, call: Call) -> tuple[int, dict[str, Any]]:
        parts = call.path.strip("/").split("/")
        if parts == ["v1", "payment_intents"]:
            return self._create_intent(call.params)
        if parts[:2] == ["v1", "payment_intents"] and len(parts) == 4:
            intent = self._intents.get(parts[2])
            if intent is None:
                return _error(404, "invalid_request_error", "resource_missing")
            if parts[3] == "capture":
                if intent["status"] != "requires_capture":
                    return _error(400, "invalid_request_error", "payment_intent_unexpected_state")
                received = int(call.params["amount_to_capture"]) - self.capture_shortfall
                intent.update(status="succeeded", amount_received=received)
            elif parts[3] == "cancel":
                if intent["status"] == "succeeded":
                    return _error(400, "invalid_request_error", "payment_intent_unexpected_state")
                intent["status"] = "canceled"
            return 200, dict(intent)
        if parts == ["v1", "refunds"]:
            n = len(self.calls)
            return 200, {
                "id": f"re_{n}",
                "object": "refund",
                "amount": int(call.params["amount"]),
                "currency": "gbp",
                "payment_intent": call.params["payment_intent"],
                "status": self.refund_status,
                "metadata": {"gaap_refund_id": call.params.get("metadata[gaap_refund_id]", "")},
            }
        return _error(404, "invalid_request_error", "unknown_path")

    def _create_intent(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent_id = f"pi_{len(self._intents) + 1}"
        number = params.get("payment_method_data[card][number]", "")
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "capture_method": params.get("capture_method"),
            "status": "requires_capture",
            "metadata": {"gaap_payment_id": params.get("metadata[gaap_payment_id]", "")},
        }
        if number in (DECLINED, EXPIRED):
            intent["status"] = "requires_payment_method"
            self._intents[intent_id] = intent
            code = "card_declined" if number == DECLINED else "expired_card"
            status, body = _error(402, "card_error", code)
            body["error"]["payment_intent"] = intent
            return status, body
        self._intents[intent_id] = intent
        return 200, dict(intent)


def _error(status: int, kind: str, code: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "code": code, "message": f"test {code}"}}
