"""payments's composition root."""

from __future__ import annotations

from services.payments.settings import PaymentsSettings
from services.runtime import bootstrap
from services.runtime.config import PlatformSettings
from services.runtime.http import build_app
from services.runtime.process import ServiceSpec


def build(platform: PlatformSettings, settings: PaymentsSettings) -> ServiceSpec:
    verifier = bootstrap.token_verifier("payments", platform)
    return bootstrap.assemble(
        "payments",
        platform,
        settings,
        verifier,
        bootstrap.Parts(
            grpc_services=[], policy={}, http_app=lambda ready: build_app([], ready=ready)
        ),
    )
