"""The two hottest calls as single prepared PostgreSQL statements.

``CreatePayment`` and ``GetPayment`` are most of an agency's traffic. Through
the ORM session each cost a BEGIN, several statements built and compiled by
SQLAlchemy per call, and a COMMIT or ROLLBACK: about 1.5 ms and 0.3 ms of server
CPU. Here each is one statement on the thread's own autocommit connection
(``services.runtime.direct_sql``), prepared by the server on first use:

- create: one statement with data-modifying CTEs claims the idempotency key
  (with its response), inserts the payment and its ``payment.created`` event and
  queues the webhook deliveries of the agency's subscriptions. PostgreSQL runs a
  statement as one transaction, so all of it commits, with one WAL flush, or
  none of it does. A key already present (a replay, a different request, a
  racing replica that got there first, an expired key) claims nothing and
  inserts nothing; the caller then takes the general path, which answers each
  of those cases with the shared ``services.runtime.idempotency`` rules.
- get: one SELECT filtered by tenant and id, no transaction around it.

SQLite keeps the general path (it has no data-modifying CTEs and is not where
throughput matters).
"""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import UTC
from typing import Any

from services.payments.adapters import tables as t
from services.payments.adapters.payments_sql import payment_from_row
from services.payments.domain import events
from services.payments.domain.payments import Payment
from services.runtime.db_types import utcnow
from services.runtime.direct_sql import DirectSql, Statement
from services.runtime.idempotency import DEFAULT_TTL, Keyed, id_response

_PAYMENT_COLUMNS = tuple(c.name for c in t.payments.c)
_PaymentRow = namedtuple("_PaymentRow", _PAYMENT_COLUMNS)  # type: ignore[misc]
_TIMES = tuple(
    i
    for i, name in enumerate(_PAYMENT_COLUMNS)
    if name in ("created_at", "updated_at", "authorised_at", "captured_at")
)

# Both statements are put together from tables.py's names only; every value is
# a bound parameter.
_GET_PAYMENT = Statement(
    f"SELECT {', '.join(_PAYMENT_COLUMNS)} FROM {t.payments.name} "  # noqa: S608
    "WHERE id = %(id)s AND tenant = %(tenant)s"
)

# Columns a new payment sets; the rest (failure, card, authorised/captured
# times) start NULL.
_NEW_PAYMENT = {
    "id": "%(id)s",
    "tenant": "%(tenant)s",
    "amount": "%(amount)s",
    "currency": "%(currency)s",
    "reference": "%(reference)s",
    "description": "%(description)s",
    "return_url": "%(return_url)s",
    "email": "%(email)s",
    "language": "%(language)s",
    "metadata": "%(metadata)s::json",
    "delayed_capture": "%(delayed_capture)s",
    "state": "%(state)s",
    "provider": "%(provider)s",
    "provider_ref": "''",
    "agency_name": "%(agency_name)s",
    "captured_amount": "0",
    "refunded_amount": "0",
    "created_at": "%(now)s",
    "updated_at": "%(now)s",
}

_CREATE_PAYMENT = Statement(f"""
WITH claim AS (
    INSERT INTO {t.idempotency_keys.name}
        (tenant, key, fingerprint, response, created_at, expires_at)
    VALUES (%(tenant)s, %(key)s, %(fingerprint)s, %(response)s, %(key_at)s, %(key_expires)s)
    ON CONFLICT DO NOTHING
    RETURNING key
), payment AS (
    INSERT INTO {t.payments.name} ({", ".join(_NEW_PAYMENT)})
    SELECT {", ".join(_NEW_PAYMENT.values())} FROM claim
    RETURNING id
), event AS (
    INSERT INTO {t.payment_events.name} (tenant, payment_id, type, state, refund_id, at)
    SELECT %(tenant)s, id, %(event_type)s, %(state)s, NULL, %(now)s FROM payment
), deliveries AS (
    INSERT INTO {t.webhook_deliveries.name}
        (id, tenant, subscription_id, url, event_id, event_type, body, state, attempts,
         next_attempt_at, created_at)
    SELECT 'whd_' || md5(%(event_id)s || s.id), s.tenant, s.id, s.url, %(event_id)s,
        %(event_type)s, %(body)s, 'pending', 0, %(now)s, %(now)s
    FROM {t.webhook_subscriptions.name} s, payment
    WHERE s.tenant = %(tenant)s AND s.disabled_at IS NULL
        AND (json_array_length(s.event_types) = 0 OR s.event_types::jsonb ? %(event_type)s)
)
SELECT count(*) FROM payment
""")  # noqa: S608


class DirectPostgres:
    """Single-statement paths on PostgreSQL; ``enabled`` is False elsewhere."""

    def __init__(self, sql: DirectSql) -> None:
        self._sql = sql
        self.enabled = sql.enabled

    def get_payment(self, tenant: str, payment_id: str) -> Payment | None:
        row = self._sql.fetchone(_GET_PAYMENT, {"id": payment_id, "tenant": tenant})
        if row is None:
            return None
        values = list(row)
        for i in _TIMES:  # as UtcDateTime gives them: aware, in UTC
            if values[i] is not None:
                values[i] = values[i].astimezone(UTC)
        return payment_from_row(_PaymentRow._make(values))

    def create_payment(self, payment: Payment, call: Keyed) -> bool:
        """Everything a new payment writes, atomically, with ``call``'s key
        (the payment's id as its response); False (and nothing written) if the
        key is already taken for this tenant."""
        event_id, body = events.webhook_event(payment, events.CREATED, payment.created_at)
        key_at = utcnow()  # the key's lifetime runs on real time, as in SqlIdempotencyKeys
        params: dict[str, Any] = {
            "id": payment.id,
            "tenant": payment.tenant,
            "amount": payment.amount,
            "currency": payment.currency,
            "reference": payment.reference,
            "description": payment.description,
            "return_url": payment.return_url,
            "email": payment.email,
            "language": payment.language,
            "metadata": json.dumps(dict(payment.metadata)),
            "delayed_capture": payment.delayed_capture,
            "state": payment.state.value,
            "provider": payment.provider,
            "agency_name": payment.agency_name,
            "now": payment.created_at,
            "key": call.key,
            "fingerprint": call.fingerprint,
            "response": id_response(payment.id),
            "key_at": key_at,
            "key_expires": key_at + DEFAULT_TTL,
            "event_type": events.CREATED,
            "event_id": event_id,
            "body": events.encode_body(body),
        }
        row = self._sql.fetchone(_CREATE_PAYMENT, params)
        return row is not None and row[0] == 1
