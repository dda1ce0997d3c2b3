"""The client library's typed errors carry a refusal's google.rpc.ErrorInfo, as
payments sends it when a refund exceeds what is left of a payment."""

from __future__ import annotations

import pytest
from gaap.payments.v1 import payments_pb2 as ppb

from gaap_client import ClientSecret, GaapClient, Targets, TokenSource
from gaap_client.errors import FailedPrecondition
from tests.integration.payments.support import MAGIC, PUBLIC_URL, pay_on_page
from tests.support.platform import Platform


def test_a_refused_refund_says_why_and_how_much_is_left(platform: Platform) -> None:
    agency = platform.secret_agency()
    tokens = TokenSource(platform.token_url, ClientSecret(agency.client_id, agency.client_secret))
    targets = Targets(
        platform.identity.grpc_target, platform.payments.grpc_target, platform.notify.grpc_target
    )
    with GaapClient(tokens, targets) as client:
        payment = client.payments.CreatePayment(
            ppb.CreatePaymentRequest(
                amount=1000,
                reference="REF-1",
                description="Permit",
                return_url="https://agency.example/done",
            )
        )
        page = payment.next_url.replace(PUBLIC_URL, platform.payments.http_url)
        assert pay_on_page(page, MAGIC["success"]).status_code == 303
        client.payments.CreateRefund(ppb.CreateRefundRequest(payment_id=payment.id, amount=300))

        with pytest.raises(FailedPrecondition) as too_much:
            client.payments.CreateRefund(ppb.CreateRefundRequest(payment_id=payment.id, amount=701))
        assert (too_much.value.reason, too_much.value.domain) == (
            "REFUND_EXCEEDS_AVAILABLE",
            "payments.gaap",
        )
        assert too_much.value.metadata == {
            "available_amount": "700",
            "requested_amount": "701",
            "currency": "GBP",
        }

        stale = ppb.CreateRefundRequest(payment_id=payment.id, amount=100)
        stale.expected_available_amount = 1000
        with pytest.raises(FailedPrecondition) as changed:
            client.payments.CreateRefund(stale)
        assert changed.value.reason == "AVAILABLE_AMOUNT_CHANGED"
        assert changed.value.metadata["available_amount"] == "700"
