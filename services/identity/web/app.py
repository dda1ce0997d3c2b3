"""identity's HTTP routes: token endpoint, discovery metadata and JWKS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from services.identity.domain.agencies import ASSERTION_ALGORITHMS
from services.identity.domain.scopes import KNOWN_SCOPES
from services.identity.service_layer.keys import KeyStore
from services.identity.web.oauth_server import NO_STORE, TokenServer
from services.runtime.http import build_app

MAX_FORM_BYTES = 64 * 1024
TOKEN_PATH = "/oauth2/token"
JWKS_PATH = "/.well-known/jwks.json"


def metadata(issuer: str) -> dict[str, Any]:
    """Authorization server metadata (RFC 8414): only what this server really does."""
    return {
        "issuer": issuer,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "scopes_supported": list(KNOWN_SCOPES),
    }


def _oauth_error(description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "error_description": description},
        status_code=status,
        headers=NO_STORE,
    )


def create_app(
    *, issuer: str, token_server: TokenServer, keys: KeyStore
) -> Callable[[Callable[[], bool]], ASGIApp]:
    discovery = json.dumps(metadata(issuer)).encode()

    async def token(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error("the body must be application/x-www-form-urlencoded")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return _oauth_error("the request body is too large", 413)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return _oauth_error("the body is not valid UTF-8 form data")
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:  # RFC 6749 §3.2: parameters must not repeat
                return _oauth_error(f"parameter {key!r} is repeated")
            form[key] = value
        status, payload, headers = await run_in_threadpool(
            token_server.token_response, form, request.headers
        )
        return JSONResponse(payload, status_code=status, headers=dict(headers))

    async def well_known(_: Request) -> Response:
        return Response(discovery, media_type="application/json")

    async def jwks(_: Request) -> Response:
        document = await run_in_threadpool(keys.jwks)
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=60"})

    routes = [
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route("/.well-known/openid-configuration", well_known),
        Route("/.well-known/oauth-authorization-server", well_known),
        Route(JWKS_PATH, jwks),
    ]
    return lambda ready: build_app(routes, ready=ready)
