"""identity's HTTP routes: OAuth and OpenID Connect endpoints, sign-in pages,
discovery metadata and JWKS."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from authlib.oidc.discovery import OpenIDProviderMetadata
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from services.identity.domain import assurance
from services.identity.domain.accounts import SUPPORTED_CLAIMS
from services.identity.domain.agencies import ASSERTION_ALGORITHMS
from services.identity.domain.authorization import DISPLAYS, SUPPORTED_PROMPTS
from services.identity.domain.request_objects import SIGNING_ALGORITHMS as REQUEST_OBJECT_ALGORITHMS
from services.identity.domain.scopes import KNOWN_SCOPES
from services.identity.domain.signing_keys import ID_TOKEN_ALGORITHMS
from services.identity.service_layer.keys import KeyStore
from services.identity.web.oauth_server import NO_STORE, TokenServer
from services.runtime.dpop import ALGORITHMS as DPOP_ALGORITHMS
from services.runtime.http import build_app
from services.runtime.work_gate import Busy

TOKEN_PATH = "/oauth2/token"
REVOKE_PATH = "/oauth2/revoke"
INTROSPECT_PATH = "/oauth2/introspect"
JWKS_PATH = "/.well-known/jwks.json"
AUTHORIZE_PATH = "/authorize"
USERINFO_PATH = "/userinfo"
LOGOUT_PATH = "/logout"
PAR_PATH = "/par"

FormHandler = Callable[[dict[str, str], Mapping[str, str]], tuple[int, Any, list[tuple[str, str]]]]


def metadata(
    issuer: str,
    languages: tuple[str, ...] = ("en", "zh-Hans"),
    *,
    require_par: bool = False,
) -> dict[str, Any]:
    """OpenID Provider metadata (OIDC Discovery 1.0, RFC 8414): only what works,
    checked by authlib's ``OpenIDProviderMetadata`` (which extends RFC 8414's
    ``AuthorizationServerMetadata``) so a wrong value stops the start.
    ``require_par``: the operator requires pushed authorization requests of
    every agency (RFC 9126 §5)."""
    document = OpenIDProviderMetadata(
        {
            "issuer": issuer,
            "authorization_endpoint": issuer + AUTHORIZE_PATH,
            "token_endpoint": issuer + TOKEN_PATH,
            "userinfo_endpoint": issuer + USERINFO_PATH,
            "jwks_uri": issuer + JWKS_PATH,
            "revocation_endpoint": issuer + REVOKE_PATH,
            "introspection_endpoint": issuer + INTROSPECT_PATH,
            "end_session_endpoint": issuer + LOGOUT_PATH,
            "pushed_authorization_request_endpoint": issuer + PAR_PATH,
            "require_pushed_authorization_requests": require_par,
            "scopes_supported": list(KNOWN_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ],
            "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
            "acr_values_supported": list(assurance.LEVELS),
            "subject_types_supported": ["pairwise", "public"],
            "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGORITHMS),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(SUPPORTED_CLAIMS),
            "claims_parameter_supported": True,
            "request_parameter_supported": True,
            "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGORITHMS),
            "request_uri_parameter_supported": False,
            "require_request_uri_registration": False,
            "prompt_values_supported": sorted(SUPPORTED_PROMPTS),
            "display_values_supported": sorted(DISPLAYS),
            "ui_locales_supported": list(languages),
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "frontchannel_logout_supported": False,
        }
    )
    document.validate()
    return dict(document)


def _oauth_error(description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "error_description": description},
        status_code=status,
        headers=NO_STORE,
    )


def form_endpoint(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A form-posted OAuth endpoint: strict parsing, then ``handler`` on a thread."""

    async def endpoint(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error("the body must be application/x-www-form-urlencoded")
        body = await request.body()  # at most FORM_BYTES: build_app's BodyLimit
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return _oauth_error("the body is not valid UTF-8 form data")
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:  # RFC 6749 §3.2: parameters must not repeat
                return _oauth_error(f"parameter {key!r} is repeated")
            form[key] = value
        status, payload, headers = await run_in_threadpool(handler, form, request.headers)
        return JSONResponse(payload, status_code=status, headers=dict(headers))

    return endpoint


def create_app(
    *,
    issuer: str,
    token_server: TokenServer,
    keys: KeyStore,
    pages: list[BaseRoute],
    userinfo: Callable[[Request], Awaitable[Response]],
    pushed: FormHandler,
    require_par: bool = False,
    busy: Callable[[Request, Exception], Awaitable[Response]] | None = None,
) -> Callable[[Callable[[], bool]], ASGIApp]:
    """``pushed`` answers pushed authorization requests (RFC 9126); ``busy``
    answers a request refused because too many password hashes are running
    (``work_gate.Busy``), wherever in the pages it happened."""
    discovery = json.dumps(metadata(issuer, require_par=require_par)).encode()

    async def well_known(_: Request) -> Response:
        return Response(discovery, media_type="application/json")

    async def jwks(_: Request) -> Response:
        document = await run_in_threadpool(keys.jwks)
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=60"})

    routes: list[BaseRoute] = [
        Route(TOKEN_PATH, form_endpoint(token_server.token_response), methods=["POST"]),
        Route(REVOKE_PATH, form_endpoint(token_server.revocation_response), methods=["POST"]),
        Route(
            INTROSPECT_PATH, form_endpoint(token_server.introspection_response), methods=["POST"]
        ),
        Route(PAR_PATH, form_endpoint(pushed), methods=["POST"]),
        Route(USERINFO_PATH, userinfo, methods=["GET", "POST"]),
        Route("/.well-known/openid-configuration", well_known),
        Route("/.well-known/oauth-authorization-server", well_known),
        Route(JWKS_PATH, jwks),
        *pages,
    ]

    def app(ready: Callable[[], bool]) -> ASGIApp:
        built = build_app(routes, ready=ready)
        if busy is not None:
            built.add_exception_handler(Busy, busy)
        return built

    return app
