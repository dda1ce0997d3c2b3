"""Brute force at citizen sign-in, shown refused (issue 13, items 2, 5 and 6):

- someone who knows the password guesses second factors (authenticator codes,
  texted codes, recovery codes), signing in with the password between guesses:
  the account still locks after ``IDENTITY_LOCKOUT_ATTEMPTS`` wrong ones, its
  owner is emailed, each lock in a row lasts twice as long as the last (up to a
  day), and code posts are throttled per client address like password posts;
- someone probes which addresses have accounts through the lockout: a known
  and an unknown address answer word for word alike, however many tries, and
  one client address cannot lock a citizen out everywhere;
- someone floods the sign-in page: argon2id hashes in one process stay within
  their memory budget, and every request is answered (the excess with a
  "try again" page, 503 and ``Retry-After``, in English and Chinese).

identity runs alone (in this process, or as a real process for the memory
check), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from services.identity import bootstrap as identity_bootstrap
from services.identity.adapters import messaging
from services.identity.adapters.postbox import Postbox
from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.bootstrap import Identity, open_identity
from services.identity.domain import messages
from services.identity.domain.accounts import Account
from services.identity.domain.messages import Kind
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.signin import Outcome, SignIn
from services.identity.settings import IdentitySettings
from services.runtime import process
from services.runtime.process import RunningService
from services.runtime.work_gate import Gate
from tests.integration.accounts.helpers import post_form
from tests.integration.accounts.test_accounts_sms import Texts
from tests.production.fleet import Fleet, base_environment
from tests.support import databases
from tests.support.oidc import CitizenBrowser
from tests.support.platform import LOCAL, settings_for

PASSWORD = "a sensible passphrase 42"
SECRET = pyotp.random_base32()
LOCKED = "You have tried too many times"


@contextmanager
def identity_alone(
    database_url: str, var: Path, **settings: Any
) -> Iterator[tuple[RunningService, Identity]]:
    """identity serving in this process, and an admin view of its database."""
    values: dict[str, Any] = {"posts_per_ip_per_hour": 10000, "smtp_port": 9, **settings}
    identity_settings = IdentitySettings(
        database_url=database_url, grpc_address=LOCAL, http_address=LOCAL, **values
    )
    platform = settings_for(var)
    running = process.start(identity_bootstrap.build(platform, identity_settings))
    admin = open_identity(platform, identity_settings)
    try:
        yield running, admin
    finally:
        running.stop(grace=1)
        admin.database.close()


@dataclass
class Letters:
    """Every email identity sent: (kind, address, language, values)."""

    sent: list[tuple[Kind, str, str, dict[str, str]]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> None:
        with self._changed:
            self.sent.append((kind, to, language, dict(values)))
            self._changed.notify_all()

    def of(self, kind: Kind, to: str) -> list[dict[str, str]]:
        with self._changed:
            return [v for k, a, _, v in self.sent if (k, a) == (kind, to)]

    def wait_for(self, kind: Kind, to: str, timeout: float = 15) -> dict[str, str]:
        """The first such email (sending is asynchronous, so wait for it)."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.of(kind, to), timeout), (kind, to)
            return self.of(kind, to)[0]


class Recording:
    """identity's messenger in these tests: texts and emails recorded."""

    can_send_sms = True

    def __init__(self, letters: Letters, texts: Texts) -> None:
        self._letters = letters
        self._texts = texts

    def send(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> None:
        if kind in messages.SMS_KINDS:
            self._texts.record(to, messages.render(kind, language, values).body)
        else:
            self._letters.record(kind, to, language, values)


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts()


@pytest.fixture(scope="module")
def letters() -> Letters:
    return Letters()


@pytest.fixture(scope="module")
def identity(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, texts: Texts, letters: Letters
) -> Iterator[tuple[RunningService, Identity]]:
    """identity whose messenger can text (texts and emails recorded)."""

    def texting(_settings: IdentitySettings, _token_server: Any) -> tuple[Postbox, None]:
        return Postbox(Recording(letters, texts), can_send_sms=True), None

    patch = pytest.MonkeyPatch()
    patch.setattr(messaging, "postbox", texting)
    try:
        with identity_alone(
            database_url, tmp_path_factory.mktemp("var"), sends_per_address_per_hour=1000
        ) as running:
            patch.undo()
            yield running
    finally:
        patch.undo()


def new_account(admin: Identity, **factors: Any) -> Account:
    return admin.accounts.create(
        email=f"citizen-{uuid.uuid4().hex[:10]}@example.gov.test",
        password=PASSWORD,
        email_verified=True,
        **factors,
    )


def password_step(url: str, email: str) -> tuple[CitizenBrowser, httpx.Response]:
    """A fresh browser past the password at the account's sign-in: on the
    second-factor page, or the refusal."""
    browser = CitizenBrowser(url)
    answer = browser.submit(browser.get("/account/signin"), email=email, password=PASSWORD)
    if answer.status_code == 303:
        return browser, browser.follow(answer)
    return browser, answer


def wrong_totp(secret: str, at: datetime | None = None) -> str:
    now = at or datetime.now(UTC)
    right = {pyotp.TOTP(secret).at(now + timedelta(seconds=s)) for s in (-60, 0, 60)}
    return next(
        c for c in (f"{secrets.randbelow(10**6):06d}" for _ in range(100)) if c not in right
    )


# -- second factors: the password buys no fresh guesses ------------------------------------


def test_wrong_authenticator_codes_lock_the_account_whatever_passwords_come_between(
    identity: tuple[RunningService, Identity], letters: Letters
) -> None:
    running, admin = identity
    account = new_account(admin, totp_secret=SECRET)
    locked_at = None
    for guess in range(1, 51):
        # The correct password before every guess.
        browser, page = password_step(running.http_url, account.email)
        if LOCKED in page.text:
            break
        answer = browser.submit(page, code=wrong_totp(SECRET))
        assert answer.status_code == 400
        if LOCKED in answer.text:
            locked_at = guess
            break
    assert locked_at == attempts(admin)
    # Locked: even the right password, then the right code, get nowhere.
    browser, page = password_step(running.http_url, account.email)
    assert LOCKED in page.text
    assert 'name="code"' not in page.text
    assert_owner_told_once(letters, account)


def test_wrong_texted_codes_lock_the_account_whatever_passwords_come_between(
    identity: tuple[RunningService, Identity], texts: Texts, letters: Letters
) -> None:
    running, admin = identity
    number = f"+447912{secrets.randbelow(10**6):06d}"
    account = new_account(admin, phone_number=number)
    wrong = 0
    for _ in range(50):
        browser, page = password_step(running.http_url, account.email)
        if LOCKED in page.text:
            break
        sent = post_form(browser, page, "/signin/sms")
        code_page = browser.follow(sent)
        if 'name="code"' not in code_page.text:
            break  # no text for a locked account
        code = texts.code(number, texts.to(number))
        answer = browser.submit(code_page, code=f"{(int(code) + 1) % 10**6:06d}")
        wrong += 1
        assert answer.status_code == 400
        if LOCKED in answer.text:
            break
    assert wrong == attempts(admin)
    _, page = password_step(running.http_url, account.email)
    assert LOCKED in page.text
    assert_owner_told_once(letters, account)


def test_wrong_recovery_codes_lock_the_account_whatever_passwords_come_between(
    identity: tuple[RunningService, Identity], letters: Letters
) -> None:
    running, admin = identity
    account = new_account(admin, totp_secret=SECRET)
    wrong = 0
    for _ in range(50):
        browser, page = password_step(running.http_url, account.email)
        if LOCKED in page.text:
            break
        form = browser.get("/signin/recovery")
        answer = browser.submit(form, code=f"{secrets.token_hex(5)}-{secrets.token_hex(5)}")
        wrong += 1
        assert answer.status_code == 400
        if LOCKED in answer.text:
            break
    assert wrong == attempts(admin)
    _, page = password_step(running.http_url, account.email)
    assert LOCKED in page.text
    assert_owner_told_once(letters, account)


def assert_owner_told_once(letters: Letters, account: Account) -> None:
    """The lock was emailed to the account's owner, saying until when; the
    refused tries after it sent nothing more."""
    told = letters.wait_for(Kind.ACCOUNT_LOCKED, account.email)
    assert set(told) == {"time", "until"}
    assert len(letters.of(Kind.ACCOUNT_LOCKED, account.email)) == 1


class Clock:
    """The time as the test sets it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_second_factor_locks_in_a_row_last_twice_as_long(
    identity: tuple[RunningService, Identity],
) -> None:
    """Someone with the password comes back as each lock ends: the second lock
    lasts twice the first, and only a completed sign-in ends the series."""
    _, admin = identity
    clock = Clock()
    policy = admin.signin.password_lockout.policy
    signin = SignIn(
        identity_transactions(admin.database.sessions), admin.hasher, lockout=policy, clock=clock
    )
    told: list[Account] = []
    signin.lock_alert = told.append
    account = new_account(admin, totp_secret=SECRET)
    where = Where(ip="192.0.2.77")

    def round_of_wrong_codes() -> Outcome:
        assert signin.password(account.email, PASSWORD, where).outcome is Outcome.OK
        outcomes = [
            signin.second_factor(account.id, wrong_totp(SECRET, clock.now), where).outcome
            for _ in range(policy.max_attempts)
        ]
        # After a lock has run out, wrong codes are wrong codes again, not locks.
        assert outcomes[:-1] == [Outcome.INVALID] * (policy.max_attempts - 1)
        return outcomes[-1]

    lengths = []
    for _ in range(2):
        start = clock.now
        assert round_of_wrong_codes() is Outcome.LOCKED
        locked = signin.password(account.email, PASSWORD, where)
        assert locked.outcome is Outcome.LOCKED
        assert locked.locked_until is not None
        lengths.append(locked.locked_until - start)
        clock.now = locked.locked_until - timedelta(seconds=1)
        assert signin.password(account.email, PASSWORD, where).outcome is Outcome.LOCKED
        clock.now = locked.locked_until
    assert lengths == [policy.lock_for, 2 * policy.lock_for]
    assert [a.second_factor_locks for a in told] == [1, 2]  # the owner told of each
    # The right code completes a sign-in: the next lock is a first one again.
    code = pyotp.TOTP(SECRET).at(clock.now)
    assert signin.password(account.email, PASSWORD, where).outcome is Outcome.OK
    assert signin.second_factor(account.id, code, where).outcome is Outcome.OK
    clock.now += timedelta(minutes=1)
    start = clock.now
    assert round_of_wrong_codes() is Outcome.LOCKED
    again = signin.password(account.email, PASSWORD, where)
    assert again.locked_until == start + policy.lock_for


def test_the_page_says_how_long_an_escalated_lock_has_left(
    identity: tuple[RunningService, Identity],
) -> None:
    running, admin = identity
    clock = Clock()  # starts at the service's own time
    policy = admin.signin.password_lockout.policy
    signin = SignIn(
        identity_transactions(admin.database.sessions), admin.hasher, lockout=policy, clock=clock
    )
    account = new_account(admin, totp_secret=SECRET)
    for _ in range(2):  # the second lock starts as the first ends: 15 + 30 minutes
        for _ in range(policy.max_attempts):
            signin.second_factor(account.id, wrong_totp(SECRET, clock.now), Where())
        locked = signin.account(account.id)
        assert locked is not None
        assert locked.locked_until is not None
        clock.now = locked.locked_until
    _, page = password_step(running.http_url, account.email)
    said = re.search(r"Wait (\d+) minutes", page.text)
    assert said, page.text[:1500]
    # Not the configured 15: what is left of the second lock (45 minutes from
    # the first lock's start, less the moments this test took).
    assert 30 < int(said[1]) <= 45


@contextmanager
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the same kind with no counts in it yet."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with databases.fresh_postgres_database(databases.require_postgres()) as url:
        yield url


def test_code_posts_are_throttled_per_client_address(database_url: str, tmp_path: Path) -> None:
    with (
        empty_database(database_url, tmp_path) as empty,
        identity_alone(empty, tmp_path, posts_per_ip_per_hour=3) as (running, admin),
    ):
        account = new_account(admin, totp_secret=SECRET)
        browser, page = password_step(running.http_url, account.email)  # post 1
        statuses = []
        for _ in range(3):  # posts 2, 3 and 4: fewer than would lock the account
            page = browser.submit(page, code=wrong_totp(SECRET))
            statuses.append(page.status_code)
            if page.status_code == 429:
                break
        assert statuses == [400, 400, 429]
        assert "There have been too many attempts" in page.text


# -- the lockout tells no one which addresses have accounts -------------------------------


def normalised(page: httpx.Response, email: str) -> str:
    """The page without what differs between any two page views: the address
    typed (shown back in the form) and the per-form CSRF token."""
    text = page.text.replace(email, "EMAIL")
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', text)


def test_a_known_and_an_unknown_address_read_alike_after_many_wrong_passwords(
    identity: tuple[RunningService, Identity],
) -> None:
    running, admin = identity
    known = new_account(admin, totp_secret=SECRET).email
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.gov.test"
    pages: dict[str, list[tuple[int, str]]] = {}
    for email in (known, unknown):
        browser = CitizenBrowser(running.http_url)
        page = browser.get("/account/signin")
        seen = []
        for _ in range(7):
            page = browser.submit(page, email=email, password="not the password 1")
            seen.append((page.status_code, normalised(page, email)))
        pages[email] = seen
    assert pages[known] == pages[unknown]  # word for word, try by try
    status, last = pages[unknown][-1]
    assert status == 400
    assert LOCKED in last


@pytest.mark.parametrize("known", [True, False])
def test_one_client_address_locks_only_itself_and_many_lock_the_address(
    identity: tuple[RunningService, Identity], known: bool
) -> None:
    _, admin = identity
    signin: SignIn = admin.signin
    policy = signin.password_lockout.policy
    email = new_account(admin).email if known else f"nobody-{uuid.uuid4().hex[:8]}@example.gov.test"

    def attempt(ip: str, password: str = "not the password 1") -> Outcome:
        return signin.password(email, password, Where(ip=ip)).outcome

    outcomes = [attempt("192.0.2.1") for _ in range(policy.max_attempts + 1)]
    assert outcomes == [Outcome.INVALID] * (policy.max_attempts - 1) + [Outcome.LOCKED] * 2
    # Another client address is not locked out by the first one's guesses.
    assert attempt("192.0.2.2") is Outcome.INVALID
    if known:
        assert attempt("192.0.2.3", PASSWORD) is Outcome.OK
        assert attempt("192.0.2.1", PASSWORD) is Outcome.LOCKED  # that pair stays locked
    # Guesses from many client addresses lock the address everywhere.
    tried = 0
    while tried < policy.address_attempts and attempt(f"198.51.100.{tried}") is Outcome.INVALID:
        tried += 1
    assert tried < policy.address_attempts
    assert attempt("203.0.113.9") is Outcome.LOCKED
    if known:
        assert attempt("203.0.113.9", PASSWORD) is Outcome.LOCKED


# -- flooding the sign-in page: memory stays within its budget -----------------------------


def vm_hwm_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    assert match, status
    return int(match.group(1))


BUDGET_MIB = 80  # 4 hashes of 19 MiB at once
SLACK_MIB = 64  # request handling besides the hashes: threads, pages, connections


def test_many_concurrent_sign_ins_stay_within_the_hashing_memory_budget(
    database_url: str, tmp_path: Path
) -> None:
    env = base_environment(
        tmp_path,
        database_url,
        issuer="https://identity.gaap.test",
        IDENTITY_ARGON2_MEMORY_BUDGET_MIB=str(BUDGET_MIB),
        IDENTITY_POSTS_PER_IP_PER_HOUR="10000",
        IDENTITY_SMTP_PORT="9",
    )
    fleet = Fleet(tmp_path, env)
    replica = fleet.replica("identity", "identity")
    browsers = [CitizenBrowser("") for _ in range(40)]
    fleet.start_all()
    try:
        url = replica.http
        settings = IdentitySettings(database_url=database_url)
        admin = open_identity(settings_for(tmp_path / "admin"), settings)
        try:
            email = new_account(admin, totp_secret=SECRET).email
        finally:
            admin.database.close()
        for browser in browsers:
            browser.base = url
        pages = [b.get("/account/signin") for b in browsers]
        password_step(url, email)  # one sign-in first: the steady state has hashed once
        assert replica.process is not None
        before = vm_hwm_kib(replica.process.pid)

        def sign_in(i: int) -> httpx.Response:
            return browsers[i].submit(pages[i], email=email, password=PASSWORD)

        with ThreadPoolExecutor(len(browsers)) as pool:
            answers = list(pool.map(sign_in, range(len(browsers))))
        grown_mib = (vm_hwm_kib(replica.process.pid) - before) / 1024
        for answer in answers:
            assert answer.status_code in (303, 503), answer.text[:500]
            if answer.status_code == 503:
                assert int(answer.headers["retry-after"]) >= 1
                assert "The service is busy right now" in answer.text
        assert sum(a.status_code == 303 for a in answers) >= 4
        assert grown_mib <= BUDGET_MIB + SLACK_MIB, grown_mib
    finally:
        fleet.stop_all()
        for browser in browsers:
            browser.client.close()


def test_the_try_again_page_in_english_and_chinese(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gates: list[Gate] = []

    def no_waiting(what: str, slots: int) -> Gate:
        gates.append(Gate(what, 1, wait=0, queue=0))
        return gates[-1]

    monkeypatch.setattr(identity_bootstrap, "Gate", no_waiting)
    with identity_alone(database_url, tmp_path) as (running, admin):
        account = new_account(admin)
        browsers = {lang: CitizenBrowser(running.http_url) for lang in ("en", "zh-Hans")}
        pages = {lang: b.get(f"/account/signin?lang={lang}") for lang, b in browsers.items()}
        service_gate = gates[0]  # the service's, built before the admin's
        with service_gate.turn():  # every slot taken
            answers = {
                lang: browsers[lang].submit(page, email=account.email, password=PASSWORD)
                for lang, page in pages.items()
            }
        for answer in answers.values():
            assert answer.status_code == 503
            assert answer.headers["retry-after"].isdigit()
        assert "The service is busy right now" in answers["en"].text
        assert "服务目前繁忙" in answers["zh-Hans"].text
        # A slot free again: the same sign-in goes through.
        browser = browsers["en"]
        again = browser.submit(
            browser.get("/account/signin"), email=account.email, password=PASSWORD
        )
        assert again.status_code == 303


def attempts(admin: Identity) -> int:
    return admin.signin.password_lockout.policy.max_attempts
