"""What the current call is: request id and, once authenticated, the agency.

Interceptors set it; servicers and log records read it. A ``ContextVar`` keeps
calls apart whether they run on pool threads or on an event loop.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from services.runtime.errors import Unauthenticated

Mode = Literal["test", "live"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The agency behind a verified access token."""

    client_id: str
    mode: Mode
    scopes: frozenset[str]
    token_id: str
    expires_at: int
    scope_order: tuple[str, ...] = field(default=(), compare=False)
    # The agency's display name from identity's registry (citizens see it on pages).
    agency_name: str = ""
    # The client acting for the agency (token exchange, the ``act`` claim's
    # ``sub``: the agency console), or None when the agency calls itself.
    actor: str | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(slots=True)
class Call:
    request_id: str
    method: str
    principal: Principal | None = None


current_call: ContextVar[Call | None] = ContextVar("gaap_current_call", default=None)


def principal() -> Principal:
    """The calling agency; the auth interceptor guarantees one on protected methods."""
    call = current_call.get()
    if call is None or call.principal is None:
        raise Unauthenticated("this call carries no verified access token")
    return call.principal
