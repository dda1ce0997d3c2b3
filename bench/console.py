"""``console``: the console's pages at 16 concurrent signed-in staff, on PostgreSQL.

``make run``'s processes (identity, payments, notify, the console, each its own
process) on a throwaway PostgreSQL database per service (``gaap_bench_<random>``
and its siblings, dropped afterwards). Bench setup writes the services' own
tables directly, with COPY (documented in bench/README.md): 100,000 payments for
the demo agency and 3,000 for a second agency (so the tenant filter has rows to
skip), 1,000,000 notifications for the demo agency, spread over 90 days. 16
staff accounts are made in identity, made viewers of the demo agency's team in
the console's memberships table, and each signs in once through identity's real
pages. Then 16 client threads in their own process request each page in turn
for a warm-up and ``BENCH_SECONDS``; p50, p99 and requests/s per page.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyotp

from bench.harness import SPAWN, Session, percentile
from bench.report import Figure, Target
from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings
from tests.support import devstack
from tests.support.console import sign_in, sign_up
from tests.support.devstack import Devstack
from tests.support.journey import Citizen

POSTGRES_ADMIN = os.environ.get(
    "GAAP_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SERVICES = ("identity", "payments", "notify", "console", "demo_app")
STAFF = 16
# BENCH_CONSOLE_SCALE (default 1) multiplies the row counts: 0.01 for a quick try.
SCALE = float(os.environ.get("BENCH_CONSOLE_SCALE", "1"))
PAYMENTS = int(100_000 * SCALE)
OTHER_PAYMENTS = int(3_000 * SCALE)
NOTIFICATIONS = int(1_000_000 * SCALE)
LOG = Path(__file__).parent / "results" / "console-devstack.log"
DAYS = 90
TARGET_P99_MS = 100.0
PASSWORD = "correct horse battery"
# A few hundred recurring payers and recipients, as in a real service.
PAYERS = 5_000
RECIPIENTS = 50_000


def _reachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).splitlines()[0]


@contextmanager
def _databases() -> Iterator[dict[str, str]]:
    """A database per service, ``gaap_bench_<random>_<service>``; dropped after."""
    stem = f"gaap_bench_{secrets.token_hex(5)}"
    names = {s: f"{stem}_{s}" for s in SERVICES}
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    try:
        yield {s: f"{base}/{n}" for s, n in names.items()}
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sqlalchemy(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _id(prefix: str, at: datetime) -> str:
    """As ``services.runtime.ids.new_id``: the time in microseconds, 72 random bits."""
    micros = int(at.timestamp() * 1_000_000)
    return f"{prefix}_{micros:014x}{secrets.token_hex(9)}"


def _times(count: int, now: datetime, rng: random.Random) -> list[datetime]:
    """``count`` instants over the last 90 days, busier on recent days, oldest first."""
    span = DAYS * 86_400
    return sorted(now - timedelta(seconds=span * rng.random() ** 1.3) for _ in range(count))


# Final states only: payments' sweeper would otherwise expire the open ones and
# release the holds during the measurement.
_PAYMENT_STATES = (("success", 78), ("failed", 12), ("cancelled", 7), ("error", 3))
_FAILURES = {"failed": "declined", "cancelled": "cancelled_by_citizen", "error": "provider_error"}
_PAYMENT_COLUMNS = (
    "id, tenant, amount, currency, reference, description, return_url, email, language, "
    "metadata, delayed_capture, state, failure, provider, provider_ref, card_brand, "
    "card_last_four, card_expiry, cardholder_name, agency_name, captured_amount, "
    "refunded_amount, created_at, updated_at, authorised_at, captured_at"
)


def _load_payments(url: str, tenant: str, count: int, now: datetime, seed: int) -> None:
    rng = random.Random(seed)
    states = [s for s, weight in _PAYMENT_STATES for _ in range(weight)]
    carded = {"success", "failed", "error"}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY payments ({_PAYMENT_COLUMNS}) FROM STDIN") as copy:
            for n, at in enumerate(_times(count, now, rng)):
                state = rng.choice(states)
                amount = rng.choice((1050, 2500, 4000, 6500, 12000, rng.randint(100, 50000)))
                card = state in carded
                authorised = at + timedelta(seconds=40) if card and state != "failed" else None
                captured = authorised if state == "success" else None
                copy.write_row(
                    (
                        _id("pay", at),
                        tenant,
                        amount,
                        "GBP",
                        f"PRK-{n:08d}",
                        "Parking permit",
                        "https://agency.example/done",
                        f"payer{rng.randrange(PAYERS)}@example.com" if rng.random() < 0.8 else "",
                        "en",
                        "{}",
                        False,
                        state,
                        _FAILURES.get(state),
                        "sandbox",
                        f"sbx_{secrets.token_hex(8)}",
                        "visa" if card else None,
                        rng.choice(("4242", "0002", "1881", "5556")) if card else None,
                        "12/29" if card else None,
                        "A Payer" if card else None,
                        "Bench Agency",
                        amount if state == "success" else 0,
                        0,
                        at,
                        at + timedelta(minutes=2),
                        authorised,
                        captured,
                    )
                )
        conn.execute("ANALYZE payments")


# Final statuses only: notify's worker would otherwise send the rest.
_STATUSES = (
    ("delivered", 90),
    ("permanent-failure", 4),
    ("temporary-failure", 3),
    ("technical-failure", 1),
    ("cancelled", 2),
)
_NOTIFICATION_COLUMNS = (
    "id, tenant, mode, channel, status, template_id, template_version, recipient, subject, "
    "body, personalisation, reply_to, reference, language, fragments, created_at, due_at, "
    "first_due_at, attempts, provider, provider_message_id, sent_at, completed_at"
)


def _copy_templates(url: str, source: str, tenant: str) -> None:
    """The demo app's templates (made through notify's API), as the team's own."""
    with psycopg.connect(url) as conn:
        deadline = time.monotonic() + 60  # the demo app makes them once it is up
        while not conn.execute("SELECT 1 FROM templates WHERE tenant = %s", (source,)).fetchone():
            conn.commit()
            if time.monotonic() > deadline:
                raise RuntimeError("the demo agency has no notify templates to copy")
            time.sleep(0.5)
        conn.execute(
            "INSERT INTO template_versions (template_id, version, name, contents, created_at, "
            "changed_by, actor) SELECT 'tpl_' || substr(v.template_id, 5, 14) || %s, v.version, "
            "v.name, v.contents, v.created_at, v.changed_by, v.actor FROM template_versions v "
            "JOIN templates t ON t.id = v.template_id WHERE t.tenant = %s",
            (secrets.token_hex(9), source),
        )
        conn.execute(
            "INSERT INTO templates (id, tenant, channel, latest_version, created_at, updated_at) "
            "SELECT v.template_id, %s, t.channel, t.latest_version, t.created_at, t.updated_at "
            "FROM templates t JOIN template_versions v ON v.version = 1 "
            "AND substr(v.template_id, 5, 14) = substr(t.id, 5, 14) AND v.template_id <> t.id "
            "WHERE t.tenant = %s",
            (tenant, source),
        )


def _load_notifications(url: str, tenant: str, count: int, now: datetime) -> None:
    rng = random.Random(3)
    statuses = [s for s, weight in _STATUSES for _ in range(weight)]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        templates = cur.execute(
            "SELECT id, channel, latest_version FROM templates WHERE tenant = %s", (tenant,)
        ).fetchall()
        with cur.copy(f"COPY notifications ({_NOTIFICATION_COLUMNS}) FROM STDIN") as copy:
            for n, at in enumerate(_times(count, now, rng)):
                template_id, channel, version = rng.choice(templates)
                status = rng.choice(statuses)
                who = rng.randrange(RECIPIENTS)
                recipient = (
                    f"resident{who}@example.com" if channel == "email" else f"+4479{who:08d}"
                )
                sent = status != "cancelled"
                done = True
                copy.write_row(
                    (
                        _id("ntf", at),
                        tenant,
                        "test",
                        channel,
                        status,
                        template_id,
                        version,
                        recipient,
                        "Your parking permit" if channel == "email" else "",
                        f"Your permit PRK-{n:08d} is ready.",
                        json.dumps({"reference": f"PRK-{n:08d}"}),
                        "",
                        f"PRK-{n:08d}",
                        "en",
                        1,
                        at,
                        at,
                        at,
                        1 if sent else 0,
                        ("smtp" if channel == "email" else "local") if sent else None,
                        secrets.token_hex(8) if sent else None,
                        at + timedelta(seconds=2) if sent else None,
                        at + timedelta(seconds=20) if done else None,
                    )
                )
        conn.execute("ANALYZE notifications")


@dataclass(frozen=True)
class Setup:
    console_url: str
    team: str
    cookies: list[str]
    email: str  # a payer with payments, for the by-email filter
    recipient: str  # a recipient with notifications


def _staff(stack: Devstack, urls: dict[str, str], count: int) -> list[tuple[Citizen, str]]:
    """Accounts in identity, with the subject the console's agency sees for each."""
    platform = PlatformSettings(issuer=stack.issuer, var_dir=stack.var)
    identity = open_identity(platform, IdentitySettings(database_url=_sqlalchemy(urls["identity"])))
    console_agency = json.loads((stack.var / "console" / "agency.json").read_text())
    people = []
    try:
        agency = identity.registry.get(str(console_agency["client_id"]))
        for i in range(count):
            person = Citizen(
                f"staff{i}-{secrets.token_hex(3)}@example.com", PASSWORD, pyotp.random_base32()
            )
            account = identity.accounts.create(
                email=person.email,
                password=PASSWORD,
                email_verified=True,
                totp_secret=person.totp_secret,
                given_name="Bench",
                family_name=f"Staff {i}",
                locale="en",
            )
            people.append((person, identity.citizen_tokens.subject(account.id, agency)))
    finally:
        identity.database.close()
    return people


def _viewers(url: str, team: str, people: list[tuple[Citizen, str]]) -> None:
    """Bench setup: the staff made viewers of the team in the console's own table."""
    with psycopg.connect(url) as conn:
        for person, subject in people:
            conn.execute(
                "INSERT INTO memberships (team_id, subject, email, role, refunder, joined_at) "
                "VALUES (%s, %s, %s, 'viewer', false, now())",
                (team, subject, person.email),
            )


@contextmanager
def _keep_log(stack: Devstack) -> Iterator[None]:
    """The processes' stderr kept in bench/results, for a failed request's cause."""
    try:
        yield
    finally:
        LOG.parent.mkdir(exist_ok=True)
        LOG.write_text(stack.log_text())


@contextmanager
def _platform() -> Iterator[tuple[Setup, dict[str, str]]]:
    with _databases() as urls, tempfile.TemporaryDirectory(prefix="gaap-bench-console-") as tmp:
        extra = {f"{s.upper()}_DATABASE_URL": _sqlalchemy(u) for s, u in urls.items()}
        extra["IDENTITY_POSTS_PER_IP_PER_HOUR"] = "100000"
        with devstack.running(Path(tmp) / "var", extra) as stack, _keep_log(stack):
            # The first staff member signs an agency up through the console, as a
            # new agency does; the others join its team as viewers.
            staff = _staff(stack, urls, STAFF)
            cookies = []
            with httpx.Client(timeout=30) as browser:
                sign_in(browser, stack.console_url, staff[0][0])
                team, _ = sign_up(browser, stack.console_url, "Bench Parking Agency")
                cookies.append(str(browser.cookies["console_session"]))
            with psycopg.connect(urls["console"]) as conn:
                row = conn.execute("SELECT agency_id FROM teams WHERE id = %s", (team,)).fetchone()
            assert row
            agency = str(row[0])
            _viewers(urls["console"], team, staff[1:])
            for person, _ in staff[1:]:
                with httpx.Client(timeout=30) as browser:
                    sign_in(browser, stack.console_url, person, f"/teams/{team}")
                    cookies.append(str(browser.cookies["console_session"]))
            now = datetime.now(UTC)
            began = time.perf_counter()
            _load_payments(urls["payments"], agency, PAYMENTS, now, 1)
            _load_payments(
                urls["payments"], stack.demo("agency")["client_id"], OTHER_PAYMENTS, now, 2
            )
            _copy_templates(urls["notify"], stack.demo("agency")["client_id"], agency)
            _load_notifications(urls["notify"], agency, NOTIFICATIONS, now)
            loaded = time.perf_counter() - began
            setup = Setup(
                stack.console_url,
                team,
                cookies,
                email=f"payer{PAYERS // 2}@example.com",
                recipient=f"resident{RECIPIENTS // 2}@example.com",
            )
            print(f"bench: console data loaded in {loaded:.0f}s", flush=True)
            yield setup, urls


def pages(setup: Setup, now: datetime) -> dict[str, str]:
    """Each page's path and query, by the name the table gives it."""
    base = f"/teams/{setup.team}"
    week = (now - timedelta(days=7)).date().isoformat()
    month = (now - timedelta(days=30)).date().isoformat()
    return {
        "dashboard": f"{base}/dashboard",
        "payments": f"{base}/payments",
        "payments state+dates": (
            f"{base}/payments?state=failed&created_from={month}&created_to={week}"
        ),
        "payments email": f"{base}/payments?email={setup.email}",
        "notifications": f"{base}/notifications",
        "notifications recipient": f"{base}/notifications?recipient={setup.recipient}",
    }


def _load(url: str, cookies: list[str], seconds: float, warmup: float, out: Any) -> None:
    """16 threads, each a signed-in browser, requesting one page as fast as answered."""
    latencies: list[list[float]] = [[] for _ in cookies]
    failures = [0]
    failed: list[str] = []
    stop = threading.Event()
    measuring = threading.Event()

    def browse(i: int) -> None:
        with httpx.Client(timeout=30, cookies={"console_session": cookies[i]}) as client:
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    response = client.get(url)
                except httpx.HTTPError as exc:
                    failures[0] += 1
                    failed.append(f"{type(exc).__name__}: {exc}")
                    continue
                took = time.perf_counter() - began
                if response.status_code != 200:
                    failures[0] += 1
                    failed.append(f"{response.status_code} {response.text[:200]}")
                elif measuring.is_set():
                    latencies[i].append(took)

    threads = [threading.Thread(target=browse, args=(i,)) for i in range(len(cookies))]
    for t in threads:
        t.start()
    time.sleep(warmup)
    measuring.set()
    began, cpu = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    measuring.clear()
    elapsed = time.perf_counter() - began
    cores = (time.process_time() - cpu) / elapsed
    stop.set()
    for t in threads:
        t.join()
    done = sorted(x for each in latencies for x in each)
    p50, p99 = percentile(done, 50), percentile(done, 99)
    out.put((len(done), elapsed, p50, p99, failures[0], failed[:1], cores))


def measure(
    url: str, cookies: list[str], seconds: float, warmup: float
) -> tuple[int, float, float, float, int, list[str], float]:
    """Successes, seconds, p50, p99, failures, the first failure, client cores used."""
    queue = SPAWN.Queue()
    client = SPAWN.Process(target=_load, args=(url, cookies, seconds, warmup, queue))
    client.start()
    result: tuple[int, float, float, float, int, list[str], float] = queue.get(
        timeout=seconds + warmup + 120
    )
    client.join()
    return result


def console_pages(session: Session) -> list[Figure]:
    problem = _reachable()
    if problem:
        session.notes.append(
            f"console: skipped, PostgreSQL is not reachable at {POSTGRES_ADMIN}: {problem}"
        )
        return []
    figures: list[Figure] = []
    with _platform() as (setup, _):
        for name, path in pages(setup, datetime.now(UTC)).items():
            calls, elapsed, p50, p99, failures, sample, cores = measure(
                setup.console_url + path, setup.cookies, session.seconds, session.warmup
            )
            if cores > 0.6:  # the client, not the console, may be what is measured
                session.notes.append(
                    f"console {name}: the client process used {cores:.0%} of a core; "
                    "its latencies include its own GIL contention"
                )
            if failures:
                session.notes.append(f"console {name}: {failures} failed (first: {sample[0]})")
            target = None if name == "dashboard" else Target("value", "<=", TARGET_P99_MS)
            figures += [
                Figure("console", f"{name} p50 ({STAFF} staff)", p50 * 1000, "ms"),
                Figure(
                    "console",
                    f"{name} p99 ({STAFF} staff)",
                    p99 * 1000,
                    "ms",
                    target=target,
                ),
                Figure("console", f"{name} requests/s", calls / elapsed, "requests/s"),
            ]
    return figures
