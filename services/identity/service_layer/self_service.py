"""What citizens do for themselves: register and prove their address, reset a
forgotten password, change it, enrol an authenticator (with recovery codes),
add a mobile number for texted sign-in codes, use a recovery code, sign out
everywhere, see and withdraw consents.

Rules kept here:
- no enumeration: registering an address that has an account, or resetting the
  password of one that has none, looks exactly like the other case (same page,
  same work, a ticket whose code was never sent);
- codes are short-lived, single use, limited in attempts and stored as keyed
  hashes; recovery codes likewise;
- wrong passwords and recovery codes count towards the account's lockout under
  a row lock (replicas count together);
- every outcome is an audit event; no password or code is ever logged.
Runs on worker threads (argon2id and the database).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.passwords import Argon2PasswordHasher
from services.identity.adapters.tables import (
    agencies,
    consents,
    known_devices,
    recovery_codes,
    user_tokens,
    verification_tickets,
)
from services.identity.adapters.tables import sessions as session_table
from services.identity.domain import messages, one_time_codes, totp
from services.identity.domain import recovery_codes as recovery
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.lockout import LockoutPolicy
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Check, CodePolicy, Purpose, Ticket
from services.identity.domain.throttle import Rule
from services.identity.service_layer.postbox import Postbox
from services.identity.service_layer.signin import Outcome, Where
from services.identity.service_layer.throttling import Throttle
from services.runtime.db import transaction
from services.runtime.db_types import utcnow

_TICKET = re.compile(r"tkt_[A-Za-z0-9_-]{20,60}")
RESET_WINDOW = timedelta(minutes=15)  # from proving the code to choosing a password


@dataclass(frozen=True)
class Rules:
    codes: CodePolicy = field(default_factory=CodePolicy)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # Codes sent to one address (registration, reset) and account form posts
    # from one client address.
    sends_per_address: Rule = field(
        default_factory=lambda: Rule("sends-per-address", 5, timedelta(hours=1))
    )
    posts_per_ip: Rule = field(
        default_factory=lambda: Rule("posts-per-ip", 100, timedelta(hours=1))
    )
    # Mobile numbers typed without a country code are read as this region's.
    phone_region: str = "GB"


@dataclass(frozen=True)
class AgencyUse:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    granted_at: datetime
    last_signed_in: datetime | None


@dataclass(frozen=True)
class Enrolment:
    secret: str
    proof: str  # binds the secret to the account, so the form can carry it


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SelfService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        hasher: Argon2PasswordHasher,
        postbox: Postbox,
        key: bytes,
        *,
        rules: Rules | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._postbox = postbox
        self._key = key
        self.rules = rules or Rules()
        self._clock = clock
        self.throttle = Throttle(sessions, clock)

    @property
    def can_send_sms(self) -> bool:
        """Whether this deployment's messenger can text (notify can, SMTP cannot)."""
        return self._postbox.can_send_sms

    # -- throttling -------------------------------------------------------------------

    def check_ip(self, where: Where) -> None:
        """One account form post from this client address (raises Throttled)."""
        self.throttle.check(
            self.rules.posts_per_ip, where.ip or "unknown", ip=where.ip, client_id=where.client_id
        )

    def _check_sends(self, email: str, where: Where, account_id: str | None) -> None:
        self.throttle.check(
            self.rules.sends_per_address,
            email,
            ip=where.ip,
            client_id=where.client_id,
            account_id=account_id,
        )

    # -- registration -------------------------------------------------------------------

    def register(self, email: str, password: str, browser: str, language: str, where: Where) -> str:
        """Start a registration; returns the ticket the browser carries to the code
        page. The address and password are already valid (see the pages)."""
        email = email.strip().lower()
        self.check_ip(where)
        with self._sessions() as session:
            existing = SqlAccountRepository(session).by_email(email)
        self._check_sends(email, where, existing.id if existing else None)
        password_hash = self._hasher.hash(password)  # the same work either way
        code = one_time_codes.new_code()
        ticket = self._new_ticket(
            Purpose.REGISTER,
            email,
            code,
            browser,
            language,
            account_id=existing.id if existing else None,
            password_hash=None if existing else password_hash,
        )
        with transaction(self._sessions) as session:
            self._insert(session, ticket, language)
            self._record(
                session,
                EventType.REGISTRATION_STARTED,
                where,
                existing.id if existing else None,
                existing_account=existing is not None,
            )
        if existing is not None:
            self._postbox.post(Kind.ALREADY_REGISTERED, email, language, {})
        else:
            self._postbox.post(Kind.VERIFY_EMAIL, email, language, self._code_values(code))
        return ticket.id

    def confirm_registration(
        self, ticket_id: str, browser: str, code: str, where: Where
    ) -> Account | Check:
        """The new account, or why the code was refused."""
        now = self._clock()
        with transaction(self._sessions) as session:
            ticket = self._ticket(session, ticket_id, browser, Purpose.REGISTER)
            if ticket is None:
                return Check.EXPIRED
            result = self._judge(session, ticket, code, where)
            if result is not Check.OK:
                return result
            repo = SqlAccountRepository(session)
            if ticket.password_hash_value is None or repo.by_email(ticket.email) is not None:
                # The address already had an account: its code was never sent.
                self._refuse(session, ticket, Check.WRONG, where)
                return Check.WRONG
            account = Account(
                id="acc_" + uuid.uuid4().hex,
                email=ticket.email,
                email_verified=True,
                password_hash=ticket.password_hash_value,
                created_at=now,
                updated_at=now,
                locale=ticket.language,
            )
            repo.add(account)
            self._mark(session, ticket.id, used_at=now)
            self._record(session, EventType.EMAIL_VERIFIED, where, account.id)
            self._record(session, EventType.REGISTERED, where, account.id)
            return account

    def resend_registration(self, ticket_id: str, browser: str, where: Where) -> str | None:
        """A fresh code for the same registration (the old ticket ends)."""
        now = self._clock()
        with transaction(self._sessions) as session:
            ticket = self._ticket(session, ticket_id, browser, Purpose.REGISTER)
            if ticket is None or ticket.ticket.used_at is not None:
                return None
            self._mark(session, ticket.id, used_at=now)
        self.check_ip(where)
        self._check_sends(ticket.email, where, ticket.ticket.account_id)
        code = one_time_codes.new_code()
        fresh = self._new_ticket(
            Purpose.REGISTER,
            ticket.email,
            code,
            browser,
            ticket.language,
            account_id=ticket.ticket.account_id,
            password_hash=ticket.password_hash_value,
        )
        with transaction(self._sessions) as session:
            self._insert(session, fresh, ticket.language)
            self._record(session, EventType.CODE_SENT, where, ticket.ticket.account_id)
        if fresh.password_hash_value is None:
            self._postbox.post(Kind.ALREADY_REGISTERED, ticket.email, ticket.language, {})
        else:
            self._postbox.post(
                Kind.VERIFY_EMAIL, ticket.email, ticket.language, self._code_values(code)
            )
        return fresh.id

    # -- password reset -----------------------------------------------------------------

    def start_reset(self, email: str, browser: str, language: str, where: Where) -> str:
        """A ticket whether or not the address has an account; a code is sent
        only when it has one."""
        email = email.strip().lower()
        self.check_ip(where)
        with self._sessions() as session:
            account = SqlAccountRepository(session).by_email(email)
        self._check_sends(email, where, account.id if account else None)
        code = one_time_codes.new_code()
        ticket = self._new_ticket(
            Purpose.RESET,
            email,
            code,
            browser,
            language,
            account_id=account.id if account else None,
        )
        with transaction(self._sessions) as session:
            self._insert(session, ticket, language)
            self._record(
                session,
                EventType.PASSWORD_RESET_REQUESTED,
                where,
                account.id if account else None,
                known_address=account is not None,
            )
        if account is not None:
            self._postbox.post(Kind.RESET_CODE, email, language, self._code_values(code))
        return ticket.id

    def check_reset_code(self, ticket_id: str, browser: str, code: str, where: Where) -> Check:
        now = self._clock()
        with transaction(self._sessions) as session:
            ticket = self._ticket(session, ticket_id, browser, Purpose.RESET)
            if ticket is None:
                return Check.EXPIRED
            result = self._judge(session, ticket, code, where)
            if result is not Check.OK:
                return result
            if ticket.ticket.account_id is None:
                self._refuse(session, ticket, Check.WRONG, where)
                return Check.WRONG
            self._mark(session, ticket.id, verified_at=now)
            return Check.OK

    def reset_ready(self, ticket_id: str, browser: str) -> str | None:
        """The address of a reset whose code was proved and whose new password is
        still to be chosen, or None."""
        with self._sessions() as session:
            ticket = self._ticket(session, ticket_id, browser, Purpose.RESET)
        if ticket is None or not self._ready(ticket.ticket):
            return None
        return ticket.email

    def complete_reset(
        self, ticket_id: str, browser: str, password: str, where: Where
    ) -> Account | None:
        """Set the new password; every session and refresh token of the account ends."""
        password_hash = self._hasher.hash(password)
        now = self._clock()
        with transaction(self._sessions) as session:
            ticket = self._ticket(session, ticket_id, browser, Purpose.RESET)
            if ticket is None or not self._ready(ticket.ticket):
                return None
            assert ticket.ticket.account_id is not None
            repo = SqlAccountRepository(session)
            account = repo.get_for_update(ticket.ticket.account_id)
            if account is None:
                return None
            updated = replace(
                account, password_hash=password_hash, failed_attempts=0, updated_at=now
            )
            repo.update(updated)
            self._mark(session, ticket.id, used_at=now)
            self._end_sessions(session, account.id, now)
            self._record(session, EventType.PASSWORD_RESET, where, account.id)
        self._alert(updated, Kind.PASSWORD_CHANGED, ticket.language)
        return updated

    # -- password change ----------------------------------------------------------------

    def change_password(
        self,
        account_id: str,
        current: str,
        new: str,
        where: Where,
        language: str,
        keep_sid: str,
    ) -> Outcome:
        """With the current password; other sessions and their tokens end."""
        now = self._clock()
        with self._sessions() as session:
            account = SqlAccountRepository(session).get(account_id)
        if account is None:
            return Outcome.INVALID
        if account.locked(now):
            return Outcome.LOCKED
        if not self._hasher.verify(account.password_hash, current):
            return self._failure(account_id, where, EventType.PASSWORD_CHANGE_FAILED, "password")
        password_hash = self._hasher.hash(new)
        with transaction(self._sessions) as session:
            repo = SqlAccountRepository(session)
            locked = repo.get_for_update(account_id)
            if locked is None:
                return Outcome.INVALID
            updated = replace(
                locked, password_hash=password_hash, failed_attempts=0, updated_at=now
            )
            repo.update(updated)
            self._end_sessions(session, account_id, now, keep_sid=keep_sid)
            self._record(session, EventType.PASSWORD_CHANGED, where, account_id)
        self._alert(updated, Kind.PASSWORD_CHANGED, language)
        return Outcome.OK

    # -- authenticator app and recovery codes ------------------------------------------------

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
            self._audit(EventType.SECOND_FACTOR_FAILED, where, account_id, reason="enrolment code")
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
            self._record(
                session, EventType.FACTOR_ADDED, where, account_id, factor="totp", replaced=replaced
            )
            self._record(
                session, EventType.RECOVERY_CODES_ISSUED, where, account_id, count=len(codes)
            )
        self._alert(updated, Kind.FACTOR_CHANGED, language, factor="totp")
        return codes

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
        used code counts towards lockout."""
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
                repo.update(self.rules.lockout.after_success(account))
                self._record(
                    session,
                    EventType.RECOVERY_CODE_USED,
                    where,
                    account_id,
                    remaining=self._recovery_left(session, account_id),
                )
                return Outcome.OK
            reason = "used before" if row is not None else "wrong"
            return self._count_failure(
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

    # -- a mobile number as a second factor ------------------------------------------

    def start_phone(
        self, account_id: str, number: str, browser: str, language: str, where: Where
    ) -> str:
        """Text a code to ``number`` (E.164, already checked) to prove it is the
        citizen's; returns the ticket the browser carries to the code page.
        Throttled like emailed codes, per number."""
        self.check_ip(where)
        self._check_sends(number, where, account_id)
        return self._text_code(Purpose.PHONE, account_id, number, browser, language, where)

    def confirm_phone(
        self, account_id: str, ticket_id: str, browser: str, code: str, where: Where, language: str
    ) -> Check:
        """The number becomes the account's proved mobile number, or why not."""
        now = self._clock()
        with transaction(self._sessions) as session:
            ticket = self._ticket(session, ticket_id, browser, Purpose.PHONE)
            if ticket is None or ticket.ticket.account_id != account_id:
                return Check.EXPIRED
            result = self._judge(session, ticket, code, where)
            if result is not Check.OK:
                return result
            repo = SqlAccountRepository(session)
            account = repo.get_for_update(account_id)
            if account is None or ticket.phone_number is None:
                return Check.EXPIRED
            updated = replace(
                account,
                phone_number=ticket.phone_number,
                phone_number_verified=True,
                updated_at=now,
            )
            repo.update(updated)
            self._mark(session, ticket.id, used_at=now)
            self._record(
                session,
                EventType.FACTOR_ADDED,
                where,
                account_id,
                factor="sms",
                replaced=account.has_sms_factor,
            )
        self._alert(updated, Kind.FACTOR_CHANGED, language, factor="sms")
        return Check.OK

    def remove_phone(self, account_id: str, where: Where, language: str) -> bool:
        now = self._clock()
        with transaction(self._sessions) as session:
            repo = SqlAccountRepository(session)
            account = repo.get_for_update(account_id)
            if account is None or account.phone_number is None:
                return False
            updated = replace(
                account, phone_number=None, phone_number_verified=False, updated_at=now
            )
            repo.update(updated)
            self._record(session, EventType.FACTOR_REMOVED, where, account_id, factor="sms")
        self._alert(updated, Kind.FACTOR_CHANGED, language, factor="sms")
        return True

    def send_signin_code(
        self, account_id: str, browser: str, language: str, where: Where
    ) -> str | None:
        """Text a sign-in code to the account's proved number; returns the ticket,
        or None when the account has no proved number or is locked (no text
        that could not be used)."""
        account = self.account(account_id)
        if account is None or account.phone_number is None or not account.has_sms_factor:
            return None
        if account.locked(self._clock()):
            return None
        self.check_ip(where)
        self._check_sends(account.phone_number, where, account_id)
        return self._text_code(
            Purpose.SMS_SIGNIN, account_id, account.phone_number, browser, language, where
        )

    def check_signin_code(
        self, account_id: str, ticket_id: str, browser: str, code: str, where: Where
    ) -> Outcome | Check:
        """Outcome.OK (the caller steps the session up), Outcome.LOCKED, or why
        the code was refused. Every refused code counts towards the account's
        lockout, like a wrong authenticator code."""
        now = self._clock()
        with transaction(self._sessions) as session:
            repo = SqlAccountRepository(session)
            account = repo.get_for_update(account_id)
            if account is None:
                return Check.EXPIRED
            if account.locked(now):
                return Outcome.LOCKED
            ticket = self._ticket(session, ticket_id, browser, Purpose.SMS_SIGNIN)
            if (
                ticket is None
                or ticket.ticket.account_id != account_id
                or not account.has_sms_factor
                or ticket.phone_number != account.phone_number  # the number changed since
            ):
                return Check.EXPIRED
            result = self._judge(session, ticket, code, where)
            if result is Check.OK:
                self._mark(session, ticket.id, used_at=now)
                updated = self.rules.lockout.after_success(account)
                if updated != account:
                    repo.update(updated)
                return Outcome.OK
            counted = self._count_failure(
                session, account, where, EventType.SECOND_FACTOR_FAILED, "sms", str(result)
            )
            return Outcome.LOCKED if counted is Outcome.LOCKED else result

    def _text_code(
        self,
        purpose: Purpose,
        account_id: str,
        number: str,
        browser: str,
        language: str,
        where: Where,
    ) -> str:
        code = one_time_codes.new_code()
        # Texted codes need no email: the ticket's number is where the code went.
        ticket = self._new_ticket(
            purpose, "", code, browser, language, account_id=account_id, phone_number=number
        )
        with transaction(self._sessions) as session:
            self._insert(session, ticket, language)
            self._record(session, EventType.CODE_SENT, where, account_id, purpose=str(purpose))
        self._postbox.post(Kind.PHONE_CODE, number, language, self._code_values(code))
        return ticket.id

    # -- sessions, devices, consents --------------------------------------------------

    def sign_out_everywhere(self, account_id: str, where: Where) -> int:
        """Every session and every token of the account ends."""
        now = self._clock()
        with transaction(self._sessions) as session:
            ended = self._end_sessions(session, account_id, now)
            self._record(
                session, EventType.SIGNED_OUT_EVERYWHERE, where, account_id, sessions=ended
            )
        return ended

    def _end_sessions(
        self, session: Session, account_id: str, now: datetime, keep_sid: str | None = None
    ) -> int:
        s, t = session_table, user_tokens
        session_filter = [s.c.account_id == account_id, s.c.ended_at.is_(None)]
        token_filter = [t.c.account_id == account_id, t.c.revoked_at.is_(None)]
        if keep_sid is not None:
            session_filter.append(s.c.sid != keep_sid)
            token_filter.append(t.c.sid != keep_sid)
        ended = session.execute(
            s.update().where(*session_filter).values(ended_at=now).returning(s.c.sid)
        ).all()
        session.execute(t.update().where(*token_filter).values(revoked_at=now))
        return len(ended)

    def note_device(self, account: Account, device: str | None, where: Where, language: str) -> str:
        """Remember the browser a citizen signed in from; a sign-in from a browser
        not seen before (when others are known) sends an alert. Returns the
        device cookie's value."""
        now = self._clock()
        value = device if device and 20 <= len(device) <= 64 else secrets.token_urlsafe(32)
        digest = _hash(value)
        t = known_devices
        with transaction(self._sessions) as session:
            known = (
                session.execute(sa.select(t.c.device_hash).where(t.c.account_id == account.id))
                .scalars()
                .all()
            )
            if digest in known:
                session.execute(
                    t.update()
                    .where(t.c.account_id == account.id, t.c.device_hash == digest)
                    .values(last_seen_at=now)
                )
                return value
            session.execute(
                t.insert().values(
                    account_id=account.id, device_hash=digest, first_seen_at=now, last_seen_at=now
                )
            )
            alert = bool(known)
            if alert:
                self._record(session, EventType.NEW_DEVICE, where, account.id)
        if alert:
            self._alert(account, Kind.NEW_DEVICE, language)
        return value

    def agencies(self, account_id: str) -> list[AgencyUse]:
        c, a, t = consents, agencies, user_tokens
        last = (
            sa.select(t.c.client_id, sa.func.max(t.c.auth_time).label("last"))
            .where(t.c.account_id == account_id)
            .group_by(t.c.client_id)
            .subquery()
        )
        query = (
            sa.select(c.c.client_id, c.c.scopes, c.c.granted_at, a.c.name, last.c.last)
            .select_from(
                c.outerjoin(a, a.c.client_id == c.c.client_id).outerjoin(
                    last, last.c.client_id == c.c.client_id
                )
            )
            .where(c.c.account_id == account_id)
            .order_by(c.c.granted_at.desc())
        )
        with self._sessions() as session:
            return [
                AgencyUse(r.client_id, r.name or r.client_id, tuple(r.scopes), r.granted_at, r.last)
                for r in session.execute(query)
            ]

    def withdraw_consent(self, account_id: str, client_id: str, where: Where) -> bool:
        """The agency's consent ends with every token it holds for the citizen; the
        next sign-in there asks again."""
        now = self._clock()
        c, t = consents, user_tokens
        with transaction(self._sessions) as session:
            removed = session.execute(
                c.delete()
                .where(c.c.account_id == account_id, c.c.client_id == client_id)
                .returning(c.c.client_id)
            ).all()
            if not removed:
                return False
            revoked = session.execute(
                t.update()
                .where(
                    t.c.account_id == account_id,
                    t.c.client_id == client_id,
                    t.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .returning(t.c.id)
            ).all()
            audit_log.record(
                session,
                EventType.CONSENT_WITHDRAWN,
                at=now,
                account_id=account_id,
                client_id=client_id,
                ip=where.ip,
                revoked_tokens=len(revoked),
            )
        return True

    def account(self, account_id: str) -> Account | None:
        with self._sessions() as session:
            return SqlAccountRepository(session).get(account_id)

    # -- tickets --------------------------------------------------------------------

    def _new_ticket(
        self,
        purpose: Purpose,
        email: str,
        code: str,
        browser: str,
        language: str,
        *,
        account_id: str | None = None,
        password_hash: str | None = None,
        phone_number: str | None = None,
    ) -> _LoadedTicket:
        now = self._clock()
        ticket_id = one_time_codes.new_ticket_id()
        return _LoadedTicket(
            Ticket(
                id=ticket_id,
                purpose=purpose,
                email=email,
                code_hash=one_time_codes.digest(self._key, ticket_id, code),
                browser_hash=_hash(browser),
                created_at=now,
                expires_at=now + self.rules.codes.lifetime,
                account_id=account_id,
            ),
            password_hash,
            language,
            phone_number,
        )

    @staticmethod
    def _insert(session: Session, loaded: _LoadedTicket, language: str) -> None:
        ticket = loaded.ticket
        session.execute(
            verification_tickets.insert().values(
                id=ticket.id,
                purpose=str(ticket.purpose),
                email=ticket.email,
                account_id=ticket.account_id,
                browser_hash=ticket.browser_hash,
                code_hash=ticket.code_hash,
                password_hash=loaded.password_hash_value,
                phone_number=loaded.phone_number,
                language=language,
                attempts=0,
                created_at=ticket.created_at,
                expires_at=ticket.expires_at,
            )
        )

    def _ticket(
        self, session: Session, ticket_id: str, browser: str, purpose: Purpose
    ) -> _LoadedTicket | None:
        """The ticket, locked for update, if it belongs to this browser."""
        if not _TICKET.fullmatch(ticket_id):
            return None
        t = verification_tickets
        query = sa.select(t).where(t.c.id == ticket_id, t.c.purpose == str(purpose))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = session.execute(query).first()
        if row is None or not hmac.compare_digest(row.browser_hash, _hash(browser)):
            return None
        return _LoadedTicket(
            Ticket(
                id=row.id,
                purpose=Purpose(row.purpose),
                email=row.email,
                code_hash=row.code_hash,
                browser_hash=row.browser_hash,
                created_at=row.created_at,
                expires_at=row.expires_at,
                attempts=row.attempts,
                account_id=row.account_id,
                verified_at=row.verified_at,
                used_at=row.used_at,
            ),
            row.password_hash,
            row.language,
            row.phone_number,
        )

    def _judge(self, session: Session, loaded: _LoadedTicket, code: str, where: Where) -> Check:
        ticket = loaded.ticket
        matches = one_time_codes.well_formed(code) and hmac.compare_digest(
            one_time_codes.digest(self._key, ticket.id, code), ticket.code_hash
        )
        result = one_time_codes.judge(ticket, matches, self._clock(), self.rules.codes)
        if result is not Check.OK:
            self._refuse(session, loaded, result, where)
        return result

    def _refuse(self, session: Session, loaded: _LoadedTicket, result: Check, where: Where) -> None:
        t = verification_tickets
        if result is Check.WRONG:
            session.execute(t.update().where(t.c.id == loaded.id).values(attempts=t.c.attempts + 1))
        self._record(
            session,
            EventType.CODE_REFUSED,
            where,
            loaded.ticket.account_id,
            purpose=str(loaded.ticket.purpose),
            reason=str(result),
        )

    def _ready(self, ticket: Ticket) -> bool:
        return (
            ticket.verified_at is not None
            and ticket.used_at is None
            and self._clock() < ticket.verified_at + RESET_WINDOW
        )

    @staticmethod
    def _mark(session: Session, ticket_id: str, **values: datetime) -> None:
        t = verification_tickets
        session.execute(t.update().where(t.c.id == ticket_id).values(**values))

    def _code_values(self, code: str) -> dict[str, str]:
        minutes = int(self.rules.codes.lifetime.total_seconds() // 60)
        return {"code": code, "minutes": str(minutes)}

    def purge(self) -> int:
        """Forget tickets a day after they expired."""
        t = verification_tickets
        cutoff = self._clock() - timedelta(days=1)
        with transaction(self._sessions) as session:
            return len(
                session.execute(t.delete().where(t.c.expires_at < cutoff).returning(t.c.id)).all()
            )

    # -- lockout, alerts, audit ------------------------------------------------------

    def _failure(self, account_id: str, where: Where, event: EventType, factor: str) -> Outcome:
        with transaction(self._sessions) as session:
            account = SqlAccountRepository(session).get_for_update(account_id)
            if account is None:
                return Outcome.INVALID
            return self._count_failure(session, account, where, event, factor, "wrong")

    def _count_failure(
        self,
        session: Session,
        account: Account,
        where: Where,
        event: EventType,
        factor: str,
        reason: str,
    ) -> Outcome:
        updated = self.rules.lockout.after_failure(account, self._clock())
        SqlAccountRepository(session).update(updated)
        self._record(session, event, where, account.id, reason=reason)
        if updated.locked_until is not None:
            self._record(session, EventType.ACCOUNT_LOCKED, where, account.id, factor=factor)
            return Outcome.LOCKED
        return Outcome.INVALID

    def _alert(self, account: Account, kind: Kind, language: str, factor: str = "") -> None:
        lang = messages.language_of(language)
        values = {"time": self._clock().strftime("%Y-%m-%d %H:%M")}
        if factor:
            values["factor"] = messages.FACTOR_NAMES[factor][lang]
        self._postbox.post(kind, account.email, lang, values)

    def _audit(
        self, type: EventType, where: Where, account_id: str | None = None, **details: object
    ) -> None:
        with transaction(self._sessions) as session:
            self._record(session, type, where, account_id, **details)

    def _record(
        self,
        session: Session,
        type: EventType,
        where: Where,
        account_id: str | None = None,
        **details: object,
    ) -> None:
        audit_log.record(
            session,
            type,
            at=self._clock(),
            account_id=account_id,
            client_id=where.client_id,
            ip=where.ip,
            **details,
        )


@dataclass(frozen=True)
class _LoadedTicket:
    ticket: Ticket
    password_hash_value: str | None
    language: str
    phone_number: str | None = None  # where the code was texted

    @property
    def id(self) -> str:
        return self.ticket.id

    @property
    def email(self) -> str:
        return self.ticket.email
