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
from dataclasses import dataclass, replace

from services.identity.domain import recovery_codes as recovery
from services.identity.domain import totp
from services.identity.domain.audit import EventType
from services.identity.domain.messages import Kind
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import Outcome
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow


@dataclass(frozen=True)
class Enrolment:
    secret: str
    proof: str  # binds the secret to the account, so the form can carry it


class Authenticator:
    def __init__(
        self,
        uow: IdentityTransactions,
        key: bytes,
        safeguards: Safeguards,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
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
        with self._uow() as uow:
            account = uow.accounts.get_for_update(account_id)
            if account is None:
                return None
            replaced = account.totp_secret is not None
            updated = replace(
                account, totp_secret=enrolment.secret, totp_last_step=step, updated_at=now
            )
            uow.accounts.update(updated)
            uow.recovery_codes.replace(
                account_id, [recovery.digest(self._key, account_id, c) for c in codes], now
            )
            self._safeguards.record(
                uow, EventType.FACTOR_ADDED, where, account_id, factor="totp", replaced=replaced
            )
            self._safeguards.record(
                uow, EventType.RECOVERY_CODES_ISSUED, where, account_id, count=len(codes)
            )
        self._safeguards.alert(updated, Kind.FACTOR_CHANGED, language, factor="totp")
        return codes

    # -- recovery codes -----------------------------------------------------------------

    def use_recovery_code(self, account_id: str, code: str, where: Where) -> Outcome:
        """A recovery code in place of the authenticator: single use; a wrong or
        used code counts towards the account's lock like a wrong authenticator
        code."""
        now = self._clock()
        digest = recovery.digest(self._key, account_id, code)
        with self._uow() as uow:
            account = uow.accounts.get_for_update(account_id)
            if account is None:
                return Outcome.INVALID
            if account.locked(now):
                return Outcome.LOCKED
            found, used_at = (
                uow.recovery_codes.find(account_id, digest)
                if recovery.well_formed(code)
                else (False, None)
            )
            if found and used_at is None:
                uow.recovery_codes.use(account_id, digest, now)
                uow.accounts.update(self._safeguards.rules.lockout.after_sign_in(account))
                self._safeguards.record(
                    uow,
                    EventType.RECOVERY_CODE_USED,
                    where,
                    account_id,
                    remaining=uow.recovery_codes.left(account_id),
                )
                return Outcome.OK
            reason = "used before" if found else "wrong"
            return self._safeguards.second_factor_failed(
                uow, account, where, EventType.RECOVERY_CODE_FAILED, "recovery code", reason
            )

    def recovery_codes_left(self, account_id: str) -> int:
        with self._uow.read() as uow:
            return uow.recovery_codes.left(account_id)
