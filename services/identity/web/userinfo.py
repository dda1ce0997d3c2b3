"""The UserInfo endpoint (OIDC Core §5.3): GET or POST with an access token.

An unbound token comes as ``Authorization: Bearer <token>`` (or, in a POST
form, ``access_token``). A token bound to a DPoP key (``cnf.jkt``) comes only as
``Authorization: DPoP <token>`` with one fresh ``DPoP`` proof by that key for
this request (``htm`` the request's method, ``htu`` the endpoint as discovery
publishes it, ``ath`` the token's hash): the rules the auth interceptor applies
to payments and notify (``services.runtime.dpop_presentation``). Refusals are
401 with a ``WWW-Authenticate`` challenge of the scheme concerned; with server
nonces on, a proof without the current nonce gets ``use_dpop_nonce`` and a
``DPoP-Nonce`` header (RFC 9449 §9).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.userinfo import UserInfoClaims
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.dpop import ALGORITHMS, DpopVerifier
from services.runtime.dpop_nonce import NONCE_HEADER, DpopNonces, UseDpopNonce
from services.runtime.dpop_presentation import check_presented
from services.runtime.errors import Unauthenticated

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CHALLENGES = f'Bearer realm="userinfo", DPoP algs="{" ".join(ALGORITHMS)}"'


def _challenge(error: str, description: str, status: int, headers: dict[str, str]) -> Response:
    safe = description.replace('"', "'")
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={
            "WWW-Authenticate": f'Bearer error="{error}", error_description="{safe}"',
            **NO_STORE,
            **headers,
        },
    )


@dataclass(frozen=True)
class Presented:
    """How the request carries its token: the scheme (``bearer``/``dpop``),
    the token and every DPoP proof."""

    scheme: str
    token: str
    proofs: tuple[str, ...]


class UserInfo:
    def __init__(
        self,
        verifier: AccessTokenVerifier,
        tokens: CitizenTokens,
        registry: AgencyRegistry,
        *,
        endpoint: str = "",
        dpop: DpopVerifier | None = None,
        nonces: DpopNonces | None = None,
    ) -> None:
        """``endpoint``: this endpoint's URL as discovery publishes it (a proof's
        ``htu``); ``dpop``: checks proofs (without it bound tokens are refused);
        ``nonces``: server nonces required in proofs (RFC 9449 §9)."""
        self.claims = UserInfoClaims(verifier, tokens, registry)
        self._endpoint = endpoint
        self._dpop = dpop
        self._nonces = nonces

    async def endpoint(self, request: Request) -> Response:
        nonce = {NONCE_HEADER: self._nonces.current()} if self._nonces else {}
        presented = await _presented(request)
        if presented is None:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "send an access token"},
                status_code=401,
                headers={"WWW-Authenticate": _CHALLENGES, **NO_STORE, **nonce},
            )
        try:
            claims = await run_in_threadpool(self.claims_for, presented, request.method)
        except UseDpopNonce as stale:
            return _dpop_refusal(stale, {**nonce, NONCE_HEADER: stale.nonce})
        except Unauthenticated as exc:
            if exc.challenge and exc.challenge.startswith("DPoP "):
                return _dpop_refusal(exc, nonce)
            return _challenge("invalid_token", exc.message, 401, nonce)
        except PermissionError as exc:
            return _challenge("insufficient_scope", str(exc), 403, nonce)
        return JSONResponse(claims, headers={**NO_STORE, **nonce})

    def claims_for(self, presented: Presented, method: str = "GET") -> dict[str, object]:
        """The consented claims for a citizen's access token (see ``UserInfoClaims``),
        once it is presented as its DPoP binding (or its absence) asks."""

        def check(jkt: str | None) -> None:
            check_presented(
                scheme=presented.scheme,
                token=presented.token,
                jkt=jkt,
                proofs=presented.proofs,
                verifier=self._dpop,
                htm=method,
                htu=self._endpoint,
                nonces=self._nonces,
            )

        return self.claims.claims_for(presented.token, presented=check)


def _dpop_refusal(refused: Unauthenticated, headers: dict[str, str]) -> Response:
    """RFC 9449 §7.1: 401 with the DPoP challenge the check gave."""
    return JSONResponse(
        {"error": _error_of(refused.challenge or ""), "error_description": refused.message},
        status_code=401,
        headers={"WWW-Authenticate": refused.challenge or "DPoP", **NO_STORE, **headers},
    )


def _error_of(challenge: str) -> str:
    _, _, rest = challenge.partition('error="')
    return rest.partition('"')[0] or "invalid_token"


async def _presented(request: Request) -> Presented | None:
    proofs = tuple(v for k, v in request.headers.items() if k == "dpop")
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "dpop") and value.strip():
        return Presented(scheme.lower(), value.strip(), proofs)
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        token = form.get("access_token")
        if isinstance(token, str) and token:
            return Presented("bearer", token, proofs)  # RFC 6750 §2.2: a bearer token
    return None
