"""gRPC server interceptors shared by every service.

Order matters, outermost first: ``TelemetryInterceptor`` (request id, access log,
metrics: it sees the final status), ``ErrorInterceptor`` (domain errors to status
codes with ``google.rpc`` details; never a traceback), ``AuthInterceptor``
(bearer token, scope, the agency on the call context). ``standard_interceptors``
builds that chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc

from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.dpop import DpopBinding
from services.runtime.dpop_nonce import DpopNonces
from services.runtime.interceptors.auth import AUTHENTICATED, PUBLIC, Access, AuthInterceptor
from services.runtime.interceptors.base import Chain
from services.runtime.interceptors.errors import ErrorInterceptor
from services.runtime.interceptors.telemetry import TelemetryInterceptor

__all__ = [
    "AUTHENTICATED",
    "PUBLIC",
    "Access",
    "AuthInterceptor",
    "ErrorInterceptor",
    "TelemetryInterceptor",
    "standard_interceptors",
]


def standard_interceptors(
    service: str,
    verifier: AccessTokenVerifier,
    policy: Mapping[str, Access],
    dpop: DpopBinding | None = None,
    nonces: DpopNonces | None = None,
) -> list[grpc.ServerInterceptor[Any, Any]]:
    """``dpop``: how DPoP-bound tokens are checked; without it they are refused.
    ``nonces``: server nonces their proofs must carry (RFC 9449 §9), if any."""
    return [
        Chain(
            [
                TelemetryInterceptor(service),
                ErrorInterceptor(),
                AuthInterceptor(verifier, policy, dpop, nonces),
            ]
        )
    ]
