"""A batch of single sends written as one prepared PostgreSQL statement (and the
agency's SMS settings read as another).

Through the ORM a batch of sends cost a BEGIN, four statements built and
compiled by SQLAlchemy (template versions, idempotency keys, daily counter,
notifications) and a COMMIT: most of a send's server CPU. Here the whole batch
travels as one JSON parameter of one statement on the thread's own autocommit
connection (``services.runtime.direct_sql``); data-modifying CTEs do what
``sending._write_together`` does, and PostgreSQL runs the statement as one
transaction (one WAL flush, all or nothing):

- a send whose template has a newer version than it was rendered with is left
  out (``STALE``: rendered again by its caller);
- each remaining send claims its idempotency key with its response; a key
  already present (a replay, a different request, an expired key, a racing
  replica's, which the insert waits for) claims nothing (``TAKEN``: its caller
  takes the general path, which answers each case);
- the claimed sends are added to their daily counters, and inserted.

If a counter would pass its limit the statement fails on purpose (so nothing,
claims included, is written) with ``DailyLimitReached``; the caller then takes
the general path, which finds the counter that is full.
"""

from __future__ import annotations

import json
from binascii import b2a_base64
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import exc as sa_exc

from services.notify.adapters import tables as t
from services.notify.domain.sends import STALE, TAKEN, WRITTEN, NewSend, SendOutcome
from services.runtime import idempotency
from services.runtime.direct_sql import DirectSql, Statement

__all__ = ["STALE", "TAKEN", "WRITTEN", "DailyLimitReached", "DirectSends", "NewSend"]
_OUTCOMES: dict[str, SendOutcome] = {"w": WRITTEN, "s": STALE, "t": TAKEN}

_OVER_LIMIT = "notify daily limit reached"  # in the error the statement raises on purpose

# The notification columns a new send sets from its row, with their types; the
# rest start as below (nothing attempted, claimed or sent yet).
_FROM_ROW = {
    "id": "text",
    "tenant": "text",
    "mode": "text",
    "channel": "text",
    "status": "text",
    "template_id": "text",
    "template_version": "int",
    "recipient": "text",
    "subject": "text",
    "body": "text",
    "personalisation": "json",
    "reply_to": "text",
    "reference": "text",
    "language": "text",
    "fragments": "int",
    "bulk_send_id": "text",
    "traceparent": "text",
    "created_at": "timestamptz",
    "scheduled_for": "timestamptz",
    "due_at": "timestamptz",
    "first_due_at": "timestamptz",
}
_CONSTANT = {
    "attempts": "0",
    "provider": "NULL",
    "provider_message_id": "NULL",
    "sent_at": "NULL",
    "completed_at": "NULL",
    "purged_at": "NULL",
}
assert set(_FROM_ROW) | set(_CONSTANT) == {c.name for c in t.notifications.c}
_TIMES = ("scheduled_for", "due_at", "first_due_at")  # besides created_at
# Each send travels as a JSON array (cheaper to build and encode than an object):
# its position in the batch, the row's values, then its idempotency record.
_INPUT = {
    "ord": "int",
    **_FROM_ROW,
    "key": "text",
    "fingerprint": "text",
    "response": "text",  # base64
    "daily_limit": "int",
}


def _field(i: int, name: str, kind: str) -> str:
    return f"(e->{i})::json AS {name}" if kind == "json" else f"(e->>{i})::{kind} AS {name}"


# Put together from tables.py's names only; the parameters are bound.
_WRITE_SENDS = Statement(f"""
WITH input AS (
    SELECT {", ".join(_field(i, name, kind) for i, (name, kind) in enumerate(_INPUT.items()))}
    -- jsonb: the document is parsed once, not again for every field read.
    FROM jsonb_array_elements(%(sends)s::jsonb) AS e
), fresh AS (
    SELECT i.* FROM input i JOIN {t.templates.name} tpl
        ON tpl.id = i.template_id AND tpl.tenant = i.tenant
        AND tpl.latest_version = i.template_version
), claim AS (
    INSERT INTO {t.idempotency_keys.name}
        (tenant, key, fingerprint, response, created_at, expires_at)
    SELECT tenant, key, fingerprint, decode(response, 'base64'), created_at,
        created_at + %(ttl_seconds)s * interval '1 second'
    FROM fresh
    ON CONFLICT DO NOTHING
    RETURNING tenant, key
), mine AS (
    SELECT f.* FROM fresh f JOIN claim c ON c.tenant = f.tenant AND c.key = f.key
), wanted AS (
    -- created_at is the send's time: its UTC day is the counter's day.
    SELECT tenant, channel, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n,
        min(daily_limit) AS daily_limit
    FROM mine GROUP BY 1, 2, 3
), counted AS (
    INSERT INTO {t.daily_counts.name} AS d (tenant, channel, day, count)
    SELECT tenant, channel, day, n FROM wanted WHERE n <= daily_limit
    ON CONFLICT (tenant, channel, day) DO UPDATE SET count = d.count + excluded.count
    WHERE d.count + excluded.count <= (
        SELECT w.daily_limit FROM wanted w
        WHERE w.tenant = excluded.tenant AND w.channel = excluded.channel AND w.day = excluded.day
    )
    RETURNING 1
), inserted AS (
    INSERT INTO {t.notifications.name} ({", ".join((*_FROM_ROW, *_CONSTANT))})
    SELECT {", ".join((*_FROM_ROW, *_CONSTANT.values()))} FROM mine
)
SELECT
    -- A counter short of room fails the whole statement (a cast that cannot
    -- succeed; the subquery keeps the planner from folding it early).
    CASE WHEN (SELECT count(*) FROM counted) < (SELECT count(*) FROM wanted)
        THEN ('{_OVER_LIMIT}: ' || (SELECT count(*) FROM wanted))::int END,
    -- One letter per send, in order: written, taken (key present), stale.
    string_agg(
        CASE WHEN m.ord IS NOT NULL THEN 'w' WHEN f.ord IS NOT NULL THEN 't' ELSE 's' END,
        '' ORDER BY i.ord
    )
FROM input i LEFT JOIN fresh f ON f.ord = i.ord LEFT JOIN mine m ON m.ord = i.ord
""")  # noqa: S608


_SMS_SETTINGS = Statement(
    f"SELECT sms_default_region, international_sms FROM {t.agency_settings.name} "  # noqa: S608
    "WHERE tenant = %(tenant)s"
)


class DailyLimitReached(Exception):
    """A daily counter had no room for the batch: nothing was written."""


class DirectSends:
    """``write`` on PostgreSQL; ``enabled`` is False elsewhere."""

    def __init__(self, sql: DirectSql) -> None:
        self._sql = sql
        self.enabled = sql.enabled

    def write(self, sends: Sequence[NewSend]) -> list[SendOutcome]:
        """Each send's outcome, in order; ``DailyLimitReached`` if nothing was written.

        The sends must have distinct (tenant, key) pairs.
        """
        # ASCII with \u escapes: the faster encoder, and PostgreSQL decodes them.
        document = json.dumps([_input(i, s) for i, s in enumerate(sends)])
        params = {"sends": document, "ttl_seconds": _TTL_SECONDS}
        try:
            row = self._sql.fetchone(_WRITE_SENDS, params)
        except sa_exc.DBAPIError as exc:
            if isinstance(exc.orig, pg_errors.InvalidTextRepresentation) and _OVER_LIMIT in str(
                exc.orig
            ):
                raise DailyLimitReached from exc
            raise
        assert row is not None
        return [_OUTCOMES[letter] for letter in row[1]]

    def sms_settings(self, tenant: str) -> tuple[str, bool] | None:
        """The agency's stored SMS region and international permission, if it set
        any: every SMS send reads them (one prepared statement, no transaction)."""
        row = self._sql.fetchone(_SMS_SETTINGS, {"tenant": tenant})
        return None if row is None else (str(row[0]), bool(row[1]))


_TTL_SECONDS = int(idempotency.DEFAULT_TTL.total_seconds())


_BEFORE_TIMES = tuple(_FROM_ROW)[: tuple(_FROM_ROW).index("created_at")]
assert tuple(_FROM_ROW)[len(_BEFORE_TIMES) :] == ("created_at", *_TIMES)
_values_before_times = itemgetter(*_BEFORE_TIMES)
_times = itemgetter(*_TIMES)


def _input(ord_: int, send: NewSend) -> list[Any]:
    row = send.row
    created: datetime = row["created_at"]
    created_iso = created.isoformat()
    return [
        ord_,
        *_values_before_times(row),
        created_iso,
        # Mostly the same instant as created_at (sent now): formatted once.
        *(created_iso if at is created else _iso(at) for at in _times(row)),
        send.key,
        send.fingerprint,
        b2a_base64(send.response, newline=False).decode("ascii"),
        send.daily_limit,
    ]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
