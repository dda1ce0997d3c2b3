"""An in-memory fake of the payments calls payment links make
(``services/console/service_layer/payment_links.py::LinkPaymentsCalls``): one
payment per idempotency key, refused as payments refuses a key reused with
another request, and each payment's hosted page URL."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import errors as gaap


@dataclass
class FakeLinkPayments:
    payments: dict[str, pb.Payment] = field(default_factory=dict)
    keys: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # key -> request, id
    created: list[pb.CreatePaymentRequest] = field(default_factory=list)

    def CreatePayment(self, request: pb.CreatePaymentRequest, /) -> pb.Payment:
        rest = pb.CreatePaymentRequest()
        rest.CopyFrom(request)
        rest.ClearField("idempotency_key")
        body = rest.SerializeToString(deterministic=True)
        if request.idempotency_key in self.keys:
            sent, payment_id = self.keys[request.idempotency_key]
            if sent != body:
                raise gaap.AlreadyExists(grpc.StatusCode.ALREADY_EXISTS, "key reused")
            return self.payments[payment_id]
        self.created.append(request)
        payment_id = f"pay_{len(self.payments) + 1:04d}"
        payment = pb.Payment(
            id=payment_id,
            amount=request.amount,
            currency=request.currency,
            reference=request.reference,
            description=request.description,
            return_url=request.return_url,
            metadata=dict(request.metadata),
            state=pb.PAYMENT_STATE_CREATED,
            next_url=f"https://payments.test/pay/{payment_id}",
        )
        self.payments[payment_id] = payment
        self.keys[request.idempotency_key] = (body, payment_id)
        return payment

    def GetPayment(self, request: pb.GetPaymentRequest, /) -> pb.Payment:
        if request.payment_id not in self.payments:
            raise gaap.NotFound(grpc.StatusCode.NOT_FOUND, "no such payment")
        return self.payments[request.payment_id]


@dataclass
class FakeLinkAgency:
    """What ``connect`` hands payment links: ``.payments``."""

    payments: FakeLinkPayments = field(default_factory=FakeLinkPayments)
