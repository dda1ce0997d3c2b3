"""The UserInfo endpoint (OIDC Core §5.3): GET or POST with a bearer token."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.userinfo import UserInfoClaims
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.errors import Unauthenticated

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _challenge(error: str, description: str, status: int) -> Response:
    safe = description.replace('"', "'")
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={
            "WWW-Authenticate": f'Bearer error="{error}", error_description="{safe}"',
            **NO_STORE,
        },
    )


class UserInfo:
    def __init__(
        self, verifier: AccessTokenVerifier, tokens: CitizenTokens, registry: AgencyRegistry
    ) -> None:
        self.claims = UserInfoClaims(verifier, tokens, registry)

    async def endpoint(self, request: Request) -> Response:
        token = await _bearer(request)
        if token is None:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "send a bearer access token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="userinfo"', **NO_STORE},
            )
        try:
            claims = await run_in_threadpool(self.claims_for, token)
        except Unauthenticated as exc:
            return _challenge("invalid_token", exc.message, 401)
        except PermissionError as exc:
            return _challenge("insufficient_scope", str(exc), 403)
        return JSONResponse(claims, headers=NO_STORE)

    def claims_for(self, token: str) -> dict[str, object]:
        """The consented claims for a citizen's access token (see ``UserInfoClaims``)."""
        return self.claims.claims_for(token)


async def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        token = form.get("access_token")
        if isinstance(token, str) and token:
            return token
    return None
