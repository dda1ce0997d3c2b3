"""The send path's SQL: single sends written together (group commit), by one
PostgreSQL statement when it can (``direct.py``) and through the ORM otherwise;
and the agency's stored settings, read outside any transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.notify.adapters.direct import DailyLimitReached, DirectSends
from services.notify.adapters.group_commit import GroupWriter
from services.notify.adapters.repositories import (
    AgencySettingsRows,
    DailyCounts,
    Notifications,
    Templates,
    upsert,
)
from services.notify.domain.agency_settings import Stored
from services.notify.domain.sends import STALE, TAKEN, WRITTEN, NewSend, SendOutcome
from services.runtime import idempotency
from services.runtime.db import transaction

log = logging.getLogger(__name__)

Counter = tuple[str, str, date, int]  # tenant, channel, UTC day, limit


def _counter(send: NewSend) -> Counter:
    row = send.row
    return (row["tenant"], row["channel"], row["created_at"].date(), send.daily_limit)


class _OverLimit(Exception):
    def __init__(self, counter: Counter) -> None:
        super().__init__(counter)
        self.counter = counter


class GroupCommitSends:
    """``SendWriter``: concurrent callers' sends written as one batch (``group_commit``)."""

    def __init__(self, sessions: sessionmaker[Session], direct: DirectSends | None) -> None:
        self._sessions = sessions
        self._direct = direct if direct is not None and direct.enabled else None
        self._group: GroupWriter[NewSend, SendOutcome] = GroupWriter(self.write_batch)

    def write(self, send: NewSend) -> SendOutcome:
        return self._group.submit(send)

    def write_batch(self, batch: Sequence[NewSend]) -> list[SendOutcome]:
        """One transaction for many sends; what cannot go in it (a key seen before,
        a daily limit reached) is ``TAKEN``: its caller writes it alone."""
        results: list[SendOutcome] = [TAKEN] * len(batch)
        keys: set[tuple[str, str]] = set()
        todo: list[int] = []
        for i, send in enumerate(batch):
            key = (send.row["tenant"], send.key)
            if key not in keys:  # the same key twice: the second sees the first's record
                keys.add(key)
                todo.append(i)
        if self._direct is not None:
            try:
                for i, outcome in zip(
                    todo, self._direct.write([batch[i] for i in todo]), strict=True
                ):
                    results[i] = outcome
                return results
            except DailyLimitReached:
                pass  # the general path below finds the counter that is full
            except Exception:
                log.warning("batched send failed; writing each alone", exc_info=True)
                return results
        while todo:
            try:
                with transaction(self._sessions) as session:
                    written = _write_together(session, [batch[i] for i in todo])
            except _OverLimit as exc:
                todo = [i for i in todo if _counter(batch[i]) != exc.counter]
                continue
            except Exception:
                log.warning("batched send failed; writing each alone", exc_info=True)
                return results
            for i, outcome in zip(todo, written, strict=True):
                results[i] = outcome
            return results
        return results


def _write_together(session: Session, batch: Sequence[NewSend]) -> list[SendOutcome]:
    results: list[SendOutcome] = [TAKEN] * len(batch)
    latest = Templates(session).latest_versions({s.row["template_id"] for s in batch})
    fresh = [
        i
        for i, s in enumerate(batch)
        if latest.get(s.row["template_id"]) == (s.row["tenant"], s.row["template_version"])
    ]
    for i in set(range(len(batch))) - set(fresh):
        results[i] = STALE
    claimed = claim_completed(
        session,
        tables.idempotency_keys,
        [
            (s.row["tenant"], s.key, s.fingerprint, s.response, s.row["created_at"])
            for s in (batch[i] for i in fresh)
        ],
    )
    mine = [i for i in fresh if (batch[i].row["tenant"], batch[i].key) in claimed]
    counts: dict[Counter, int] = {}
    for i in mine:
        counts[_counter(batch[i])] = counts.get(_counter(batch[i]), 0) + 1
    daily = DailyCounts(session)
    for counter, count in counts.items():
        tenant, channel, day, limit = counter
        if not daily.take(tenant, channel, day, count, limit):
            raise _OverLimit(counter)
    Notifications(session).add_many([batch[i].row for i in mine])
    for i in mine:
        results[i] = WRITTEN
    return results


def claim_completed(
    session: Session, table: sa.Table, calls: Sequence[tuple[str, str, str, bytes, datetime]]
) -> set[tuple[str, str]]:
    """Record many idempotency keys (tenant, key, fingerprint, response, now) with
    their responses in one statement; returns the (tenant, key) pairs recorded.

    The same effect as ``claim`` then ``complete`` for a key never seen, in one
    round trip for all: a key already present (replayed, reused, expired, or a
    racing replica's, which the insert waits for) is not recorded and the caller
    goes through ``claim`` for it.
    """
    if not calls:
        return set()
    statement = (
        upsert(session)(table).on_conflict_do_nothing().returning(table.c.tenant, table.c.key)
    )
    rows = [
        {
            "tenant": tenant,
            "key": key,
            "fingerprint": fingerprint,
            "response": response,
            "created_at": now,
            "expires_at": now + idempotency.DEFAULT_TTL,
        }
        for tenant, key, fingerprint, response, now in calls
    ]
    # A cached statement, sent as one multi-row INSERT (SQLAlchemy's insertmanyvalues).
    return {(r.tenant, r.key) for r in session.execute(statement, rows)}


class SqlSettingsLookup:
    """``SettingsLookup``: one prepared statement on PostgreSQL, a transaction elsewhere."""

    def __init__(self, sessions: sessionmaker[Session], direct: DirectSends | None) -> None:
        self._sessions = sessions
        self._direct = direct if direct is not None and direct.enabled else None

    def stored(self, tenant: str) -> Stored | None:
        if self._direct is not None:
            return self._direct.sms_settings(tenant)
        with transaction(self._sessions) as session:
            return AgencySettingsRows(session).get(tenant)
