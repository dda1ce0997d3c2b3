"""Keys written before idempotency had one stored format (payments kept a JSON
object with the resource's id) still replay for as long as they live (24 hours):
on PostgreSQL through the one-statement create's fallback, on SQLite directly."""

from __future__ import annotations

import json

import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2 as pb
from google.protobuf.wrappers_pb2 import StringValue

from services.payments.adapters import tables as t
from tests.integration.payments.support import Agency, Payments


def _stored(payments: Payments, tenant: str, key: str) -> bytes:
    k = t.idempotency_keys.c
    with payments.sessions() as session:
        found: bytes = session.execute(
            sa.select(k.response).where(k.tenant == tenant, k.key == key)
        ).scalar_one()
    return found


def _store(payments: Payments, tenant: str, key: str, response: bytes) -> None:
    k = t.idempotency_keys.c
    with payments.sessions.begin() as session:
        session.execute(
            t.idempotency_keys.update()
            .where(k.tenant == tenant, k.key == key)
            .values(response=response)
        )


def test_new_keys_store_the_payment_id_as_protobuf(payments: Payments) -> None:
    agency = Agency(payments)
    created = agency.create(idempotency_key="new-format")
    stored = _stored(payments, agency.client_id, "new-format")
    assert StringValue.FromString(stored).value == created.id


def test_a_key_stored_as_json_by_the_previous_release_still_replays(
    payments: Payments,
) -> None:
    agency = Agency(payments)
    created = agency.create(idempotency_key="old-create", amount=900)
    _store(
        payments, agency.client_id, "old-create", json.dumps({"payment_id": created.id}).encode()
    )
    assert agency.create(idempotency_key="old-create", amount=900).id == created.id

    cancel_key = "old-cancel"
    payment = agency.create(idempotency_key="to-cancel", amount=800)
    cancelled = agency.stub.CancelPayment(
        pb.CancelPaymentRequest(payment_id=payment.id, idempotency_key=cancel_key),
        metadata=agency.metadata,
    )
    _store(payments, agency.client_id, cancel_key, json.dumps({"payment_id": payment.id}).encode())
    again = agency.stub.CancelPayment(
        pb.CancelPaymentRequest(payment_id=payment.id, idempotency_key=cancel_key),
        metadata=agency.metadata,
    )
    assert again.id == cancelled.id
    assert again.state == cancelled.state
