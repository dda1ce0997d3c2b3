"""Provider reports that do not match their payment: counted (for an alert) and
logged. Used by the provider adapters and by the Stripe webhook use case."""

from __future__ import annotations

import logging

from prometheus_client import Counter

PROVIDER_MISMATCH = Counter(
    "gaap_payments_provider_mismatch",
    "Provider answers and webhook events whose amount or currency differ from the "
    "payment's, by provider and field; each one is a provider error to investigate.",
    ("provider", "field"),
)
log = logging.getLogger("services.payments.metrics")


def provider_mismatch(provider: str, about: str, fields: tuple[str, ...]) -> None:
    """Count and log a provider report that does not match its payment."""
    for field in fields:
        PROVIDER_MISMATCH.labels(provider, field).inc()
    log.error(
        "provider report does not match the payment",
        extra={"provider": provider, "about": about, "fields": ",".join(fields)},
    )
