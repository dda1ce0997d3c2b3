"""The authenticator app as a second factor: enrolling (or replacing) one, which
issues recovery codes, and using a recovery code in its place.

Rules kept here: the secret being enrolled travels in the form, bound to the
account by a keyed proof; recovery codes are single use, stored only as keyed
hashes, and a wrong or used one counts towards the account's lock like any
wrong second factor.
Runs on worker threads (the database).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.tables import recovery_codes
from services.identity.domain import recovery_codes as recovery
from services.identity.domain import totp
from services.identity.domain.audit import EventType
from services.identity.domain.messages import Kind
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import Outcome
from services.runtime.db import transaction
from services.runtime.db_types import utcnow


@dataclass(frozen=True)
class Enrolment:
    secret: str
    proof: str  # binds the secret to the account, so the form can carry it


class Authenticator:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        key: bytes,
        safeguards: Safeguards,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._key = key
        self._safeguards = safeguards
        self._clock = clock

    # -- enrolment ----------------------------------------------------------------------

    def new_enrolment(self, account_id: str) -> Enrolment:
        secret = totp.new_secret()
        return Enrolment(secret, self._proof(account_id, secret))

    def _proof(self, account_id: str, secret: str) -> str:
        message = f"totp-enrolment\0{account_id}\0{secret}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def valid_enrolment(self, account_id: str, secret: str, proof: str) -> bool:
        return hmac.compare_digest(self._proof(account_id, secret), proof)

    def confirm_totp(
        self, account_id: str, enrolment: Enrolment, code: str, where: Where, language: str
    ) -> list[str] | None:
        """Set (or replace) the authenticator once a first code proves it; returns
        new recovery codes, to be shown once."""
        if not self.valid_enrolment(account_id, enrolment.secret, enrolment.proof):
            return None
        now = self._clock()
        step = totp.matching_step(enrolment.secret, code, now.timestamp(), None)
        if step is None:
            self._safeguards.audit(
                EventType.SECOND_FACTOR_FAILED, where, account_id, reason="enrolment code"
            )
            return None
        codes = recovery.generate()
        with transaction(self._sessions) as session:
            repo = SqlAccountRepository(session)
            account = repo.get_for_update(account_id)
            if account is None:
                return None
            replaced = account.totp_secret is not None
            updated = replace(
                account, totp_secret=enrolment.secret, totp_last_step=step, updated_at=now
            )
            repo.update(updated)
            self._replace_recovery_codes(session, account_id, codes, now)
            self._safeguards.record(
                session, EventType.FACTOR_ADDED, where, account_id, factor="totp", replaced=replaced
            )
            self._safeguards.record(
                session, EventType.RECOVERY_CODES_ISSUED, where, account_id, count=len(codes)
            )
        self._safeguards.alert(updated, Kind.FACTOR_CHANGED, language, factor="totp")
        return codes

    # -- recovery codes -----------------------------------------------------------------

    def _replace_recovery_codes(
        self, session: Session, account_id: str, codes: Sequence[str], now: datetime
    ) -> None:
        session.execute(recovery_codes.delete().where(recovery_codes.c.account_id == account_id))
        session.execute(
            recovery_codes.insert(),
            [
                {
                    "account_id": account_id,
                    "code_hash": recovery.digest(self._key, account_id, code),
                    "created_at": now,
                }
                for code in codes
            ],
        )

    def use_recovery_code(self, account_id: str, code: str, where: Where) -> Outcome:
        """A recovery code in place of the authenticator: single use; a wrong or
        used code counts towards the account's lock like a wrong authenticator
        code."""
        now = self._clock()
        digest = recovery.digest(self._key, account_id, code)
        with transaction(self._sessions) as session:
            repo = SqlAccountRepository(session)
            account = repo.get_for_update(account_id)
            if account is None:
                return Outcome.INVALID
            if account.locked(now):
                return Outcome.LOCKED
            row = (
                session.execute(
                    sa.select(recovery_codes.c.used_at).where(
                        recovery_codes.c.account_id == account_id,
                        recovery_codes.c.code_hash == digest,
                    )
                ).first()
                if recovery.well_formed(code)
                else None
            )
            if row is not None and row.used_at is None:
                session.execute(
                    recovery_codes.update()
                    .where(
                        recovery_codes.c.account_id == account_id,
                        recovery_codes.c.code_hash == digest,
                    )
                    .values(used_at=now)
                )
                repo.update(self._safeguards.rules.lockout.after_sign_in(account))
                self._safeguards.record(
                    session,
                    EventType.RECOVERY_CODE_USED,
                    where,
                    account_id,
                    remaining=self._recovery_left(session, account_id),
                )
                return Outcome.OK
            reason = "used before" if row is not None else "wrong"
            return self._safeguards.second_factor_failed(
                session, account, where, EventType.RECOVERY_CODE_FAILED, "recovery code", reason
            )

    def recovery_codes_left(self, account_id: str) -> int:
        with self._sessions() as session:
            return self._recovery_left(session, account_id)

    @staticmethod
    def _recovery_left(session: Session, account_id: str) -> int:
        t = recovery_codes
        return int(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(t)
                .where(t.c.account_id == account_id, t.c.used_at.is_(None))
            )
            or 0
        )
