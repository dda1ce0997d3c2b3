"""Stripe, through the ``stripe`` library: PaymentIntents confirmed with the card
the citizen typed, held with manual capture (the citizen confirms on the page
after authorisation, and delayed-capture payments then wait for the agency),
captured, cancelled and refunded, each call with an idempotency key derived from
the payment and the operation.

Card numbers go to Stripe in the request and nowhere else: not logged, not stored.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe

from services.payments.domain.cards import Card
from services.payments.domain.providers import (
    Authorisation,
    Outcome,
    ProviderError,
    ProviderMismatch,
    ProviderRefused,
    RefundResult,
    mismatched,
)
from services.payments.mismatches import provider_mismatch

log = logging.getLogger(__name__)

_EXPIRED_CODES = frozenset({"expired_card"})


class StripeProvider:
    name = "stripe"

    def __init__(self, api_key: str, *, api_base: str = "", timeout_retries: int = 2) -> None:
        options: dict[str, Any] = {"max_network_retries": timeout_retries}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(api_key, **options)

    def authorise(
        self, *, payment_id: str, amount: int, currency: str, card: Card, idempotency_key: str
    ) -> Authorisation:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": "manual",
            "confirm": True,
            "payment_method_types": ["card"],
            "payment_method_data": {
                "type": "card",
                "card": {
                    "number": card.number,
                    "exp_month": card.expiry_month,
                    "exp_year": card.expiry_year,
                    "cvc": card.security_code,
                },
                "billing_details": {"name": card.cardholder_name},
            },
            "metadata": {"gaap_payment_id": payment_id},
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            code = exc.code or ""
            outcome = Outcome.CARD_EXPIRED if code in _EXPIRED_CODES else Outcome.DECLINED
            intent_id = _intent_id_of_error(exc)
            return Authorisation(outcome, intent_id)
        except stripe.StripeError as exc:
            log.warning("stripe authorisation failed", extra={"error": type(exc).__name__})
            return Authorisation(Outcome.ERROR)
        reported = intent.to_dict()
        wrong = mismatched(amount, currency, reported.get("amount"), reported.get("currency"))
        if wrong:  # never a hold for another sum: a provider error, and the hold released
            provider_mismatch(self.name, payment_id, wrong)
            self._release_quietly(intent.id, idempotency_key)
            return Authorisation(Outcome.ERROR, intent.id)
        if intent.status == "requires_capture":
            return Authorisation(Outcome.AUTHORISED, intent.id)
        if intent.status == "succeeded":  # captured already: should not happen with manual
            return Authorisation(Outcome.AUTHORISED, intent.id)
        return Authorisation(Outcome.DECLINED, intent.id)

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> None:
        intent = self._call(
            lambda: self._client.v1.payment_intents.capture(
                reference,
                {"amount_to_capture": amount},
                options={"idempotency_key": idempotency_key},
            )
        )
        received = intent.to_dict().get("amount_received")
        if type(received) is not int or received != amount:
            provider_mismatch(self.name, reference, ("amount",))
            raise ProviderMismatch(("amount",))

    def _release_quietly(self, reference: str, idempotency_key: str) -> None:
        try:
            self.cancel(reference=reference, idempotency_key=idempotency_key + "-release")
        except (ProviderError, ProviderRefused):
            log.error("stripe hold left to lapse", extra={"intent": reference})

    def cancel(self, *, reference: str, idempotency_key: str) -> None:
        self._call(
            lambda: self._client.v1.payment_intents.cancel(
                reference, options={"idempotency_key": idempotency_key}
            )
        )

    def refund(
        self, *, reference: str, amount: int, refund_id: str, idempotency_key: str
    ) -> RefundResult:
        refund = self._call(
            lambda: self._client.v1.refunds.create(
                {
                    "payment_intent": reference,
                    "amount": amount,
                    "metadata": {"gaap_refund_id": refund_id},
                },
                options={"idempotency_key": idempotency_key},
            )
        )
        if refund.status in ("failed", "canceled"):
            raise ProviderRefused(f"Stripe refused the refund ({refund.status})")
        refunded = refund.to_dict().get("amount")
        if type(refunded) is not int or refunded != amount:
            provider_mismatch(self.name, reference, ("amount",))
            raise ProviderMismatch(("amount",))
        return RefundResult(refund.status == "succeeded", refund.id)

    @staticmethod
    def _call(do: Any) -> Any:
        try:
            return do()
        except (stripe.InvalidRequestError, stripe.CardError) as exc:
            raise ProviderRefused(f"Stripe refused the request ({exc.code or 'invalid'})") from None
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe is unavailable ({type(exc).__name__})") from None


def _intent_id_of_error(exc: stripe.StripeError) -> str:
    body = exc.json_body or {}
    error = body.get("error") if isinstance(body, dict) else None
    intent = error.get("payment_intent") if isinstance(error, dict) else None
    return str(intent.get("id", "")) if isinstance(intent, dict) else ""
