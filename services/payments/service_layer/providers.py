"""Which provider handles a payment."""

from __future__ import annotations

from collections.abc import Mapping

from services.payments.domain.providers import Provider


class Providers:
    """Sandbox for every test-mode agency and by default; Stripe for live
    agencies when it is configured."""

    def __init__(self, sandbox: Provider, live: Provider | None = None) -> None:
        self._by_name: Mapping[str, Provider] = {
            p.name: p for p in (sandbox, live) if p is not None
        }
        self._sandbox = sandbox
        self._live = live

    def for_mode(self, mode: str) -> Provider:
        if mode == "live" and self._live is not None:
            return self._live
        return self._sandbox

    def named(self, name: str) -> Provider:
        return self._by_name[name]
