"""Access-token authentication (bearer, or DPoP-bound with a proof) and per-method scopes.

Every method a server serves must appear in its policy: ``PUBLIC`` (health,
reflection), ``AUTHENTICATED`` (any valid token for this service) or the scope
it needs. A method missing from the policy is refused (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import grpc

from services.runtime import context as call_context
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.dpop import DpopBinding, bound_key
from services.runtime.dpop_nonce import DpopNonces
from services.runtime.dpop_presentation import check_presented
from services.runtime.errors import PermissionDenied, Unauthenticated
from services.runtime.interceptors.base import (
    CallInterceptor,
    Metadata,
    metadata_value,
    over_http,
)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PUBLIC: Final = _Marker("PUBLIC")
AUTHENTICATED: Final = _Marker("AUTHENTICATED")
Access = _Marker | str

ALWAYS_PUBLIC: Mapping[str, Access] = {
    "/grpc.health.v1.Health/Check": PUBLIC,
    "/grpc.health.v1.Health/Watch": PUBLIC,
    "/grpc.health.v1.Health/List": PUBLIC,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": PUBLIC,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": PUBLIC,
}


class AuthInterceptor(CallInterceptor):
    def __init__(
        self,
        verifier: AccessTokenVerifier,
        policy: Mapping[str, Access],
        dpop: DpopBinding | None = None,
        nonces: DpopNonces | None = None,
    ) -> None:
        """``nonces``: server nonces a bound token's proof must carry (RFC 9449 §9)."""
        super().__init__()
        self._verifier = verifier
        self._dpop = dpop
        self._nonces = nonces
        self._policy = {**ALWAYS_PUBLIC, **policy}

    def around(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Any],
    ) -> Any:
        self._authorize(method, metadata)
        return call()

    def around_stream(
        self,
        method: str,
        metadata: Metadata,
        context: grpc.ServicerContext,
        call: Callable[[], Iterator[Any]],
    ) -> Iterator[Any]:
        self._authorize(method, metadata)
        return call()

    def _authorize(self, method: str, metadata: Metadata) -> None:
        access = self._policy.get(method)
        if access is PUBLIC:
            return
        if access is None:
            raise PermissionDenied(f"method {method} has no access policy on this server")
        header = metadata_value(metadata, "authorization")
        if header is None:
            raise Unauthenticated(
                "missing access token: send the header 'Authorization: Bearer <token>'"
                if over_http(metadata)
                else "missing access token: send metadata 'authorization: Bearer <token>'"
            )
        scheme, _, token = header.partition(" ")
        scheme, token = scheme.lower(), token.strip()
        if scheme not in ("bearer", "dpop") or not token:
            raise Unauthenticated(
                "the Authorization header must be 'Bearer <token>' or 'DPoP <token>'"
                if over_http(metadata)
                else "authorization metadata must be 'Bearer <token>' or 'DPoP <token>'"
            )
        principal, claims = self._verifier.verify_with_claims(token)
        self._check_binding(method, metadata, scheme, token, bound_key(claims))
        call = call_context.current_call.get()
        if call is not None:
            call.principal = principal
        if isinstance(access, str) and not principal.has_scope(access):
            raise PermissionDenied(f"this call needs the scope {access!r}, which the token lacks")

    def _check_binding(
        self, method: str, metadata: Metadata, scheme: str, token: str, jkt: str | None
    ) -> None:
        """RFC 9449 §7: a bound token only with ``DPoP`` and a proof by its key
        (``htm`` POST, ``htu`` the public URL and the method path)."""
        check_presented(
            scheme=scheme,
            token=token,
            jkt=jkt,
            proofs=[v for k, v in metadata if k == "dpop"],
            verifier=self._dpop.verifier if self._dpop else None,
            htm="POST",
            htu=self._dpop.base_url.rstrip("/") + method if self._dpop else "",
            nonces=self._nonces,
        )
