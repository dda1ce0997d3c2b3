"""notify's composition root."""

from __future__ import annotations

from services.notify.settings import NotifySettings
from services.runtime import bootstrap
from services.runtime.config import PlatformSettings
from services.runtime.http import build_app
from services.runtime.process import ServiceSpec


def build(platform: PlatformSettings, settings: NotifySettings) -> ServiceSpec:
    verifier = bootstrap.token_verifier("notify", platform)
    return bootstrap.assemble(
        "notify",
        platform,
        settings,
        verifier,
        bootstrap.Parts(
            grpc_services=[], policy={}, http_app=lambda ready: build_app([], ready=ready)
        ),
    )
