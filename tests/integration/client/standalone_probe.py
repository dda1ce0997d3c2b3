"""Run by the distribution test with the Python of a fresh virtual environment
that holds only the gaap-client wheel and its dependencies (never with the
repository's): it uses the library for real against an identity token endpoint
and a gRPC server of its own, and prints what it saw as JSON.

It imports nothing from ``services`` or ``tests``: they are not installed there.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any
from urllib.parse import parse_qs

import grpc
from gaap.common.v1 import caller_pb2, caller_pb2_grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

import gaap_client
from gaap_client import GaapClient, Targets
from gaap_client.errors import InvalidArgument

CLIENT_ID, CLIENT_SECRET, TOKEN = "ag_probe", "s3cret", "tok-probe"


class TokenEndpoint(BaseHTTPRequestHandler):
    """identity's ``/oauth2/token``: client_credentials with client_secret_basic."""

    def do_POST(self) -> None:
        body = parse_qs(self.rfile.read(int(self.headers["content-length"])).decode())
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if self.headers.get("authorization") != expected or body.get("grant_type") != [
            "client_credentials"
        ]:
            self.send_response(401)
            self.end_headers()
            return
        answer = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Caller(caller_pb2_grpc.CallerServiceServicer):
    """GetCallerIdentity: the token's agency on the first call, then a refusal
    with google.rpc.BadRequest details, as the platform's servers send them."""

    calls = 0

    def GetCallerIdentity(
        self, request: caller_pb2.GetCallerIdentityRequest, context: grpc.ServicerContext
    ) -> caller_pb2.CallerIdentity:
        if dict(context.invocation_metadata()).get("authorization") != f"Bearer {TOKEN}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no token")
        Caller.calls += 1
        if Caller.calls == 1:
            return caller_pb2.CallerIdentity(
                client_id=CLIENT_ID, mode=caller_pb2.MODE_TEST, service="probe"
            )
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="amount", description="too big")
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        status = status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT, message="invalid request", details=[packed]
        )
        context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returns only by raising")


def main() -> None:
    http = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    caller_pb2_grpc.add_CallerServiceServicer_to_server(Caller(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    target = f"127.0.0.1:{port}"
    token_url = f"http://127.0.0.1:{http.server_address[1]}/oauth2/token"
    try:
        with GaapClient.from_secret(
            token_url, CLIENT_ID, CLIENT_SECRET, Targets(payments=target)
        ) as client:
            me = client.caller(target).GetCallerIdentity(caller_pb2.GetCallerIdentityRequest())
            try:
                client.caller(target).GetCallerIdentity(caller_pb2.GetCallerIdentityRequest())
                refused: list[list[str]] = []
            except InvalidArgument as error:
                refused = [[v.field, v.description] for v in error.field_violations]
    finally:
        server.stop(None)
        http.shutdown()
    json.dump(
        {
            "client_id": me.client_id,
            "service": me.service,
            "refused": refused,
            "gaap_client_file": gaap_client.__file__,
            "installed": sorted(d.metadata["Name"].lower() for d in metadata.distributions()),
            "path": sys.path,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
