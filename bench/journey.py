"""``journey``: the citizen's whole journey without a browser, against the
processes ``make run`` starts (identity, payments, notify and its worker, the
local sinks, the demo app), on SQLite in a temporary var dir.

Each journey: sign in through the demo app (identity's password and TOTP forms
and consent), apply, pay on the sandbox page with the success card, return, wait
for the app to confirm (payments' signed webhook, then notify's SendEmail and
SendSms), and wait for the email and the SMS to land in the sinks. 200 journeys,
16 in flight; each by its own citizen (a TOTP code signs in once).
"""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pyotp

from bench.harness import Session, percentile
from bench.report import Figure
from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.runtime.config import PlatformSettings
from tests.support import devstack
from tests.support.devstack import Devstack
from tests.support.journey import Citizen, journey

JOURNEYS = 200
IN_FLIGHT = 16
DELIVERY_TIMEOUT = 120.0
_REFERENCE = re.compile(rb"PRK-[A-Z0-9]{8}")


class Sinks:
    """Watches var/mail and var/sms; a journey ends when both of its messages landed."""

    def __init__(self, var: Path) -> None:
        self._dirs = (var / "mail", var / "sms")
        self._seen: set[Path] = set()
        self._count: dict[bytes, int] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            fresh = [
                p
                for d in self._dirs
                if d.exists()
                for p in d.iterdir()
                if p.suffix in (".eml", ".json") and p not in self._seen
            ]
            if not fresh:
                continue
            with self._changed:
                for path in fresh:
                    self._seen.add(path)
                    for reference in set(_REFERENCE.findall(path.read_bytes())):
                        self._count[reference] = self._count.get(reference, 0) + 1
                self._changed.notify_all()

    def wait(self, reference: str, timeout: float) -> bool:
        key = reference.encode()
        with self._changed:
            return self._changed.wait_for(lambda: self._count.get(key, 0) >= 2, timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _citizens(stack: Devstack, count: int) -> list[Citizen]:
    identity = open_identity(
        PlatformSettings(issuer=stack.issuer, var_dir=stack.var), IdentitySettings()
    )
    made = []
    try:
        for i in range(count):
            secret = pyotp.random_base32()
            email = f"bench-{i}-{secrets.token_hex(3)}@example.com"
            identity.accounts.create(
                email=email,
                password="correct horse battery",
                email_verified=True,
                totp_secret=secret,
                given_name="Bench",
                family_name=f"Resident {i}",
                phone_number="+447912345678",
                locale="en",
            )
            made.append(Citizen(email, "correct horse battery", secret))
    finally:
        identity.database.close()
    return made


@contextmanager
def _stack() -> Iterator[Devstack]:
    # make run's settings, but for identity's per-address limit on sign-in forms:
    # every benchmark citizen comes from 127.0.0.1. Payments' per-agency rate limit
    # (15 creates/s) stays.
    extra = {"IDENTITY_POSTS_PER_IP_PER_HOUR": "100000"}
    with (
        tempfile.TemporaryDirectory(prefix="gaap-bench-journey-") as tmp,
        devstack.running(Path(tmp) / "var", extra) as stack,
    ):
        yield stack


def run(
    journeys: int = JOURNEYS, in_flight: int = IN_FLIGHT
) -> tuple[float, list[float], list[str]]:
    """Journeys per second, each journey's seconds (successes), and why any failed."""
    with _stack() as stack:
        citizens = _citizens(stack, journeys)
        sinks = Sinks(stack.var)
        failures: list[str] = []

        def one(citizen: Citizen) -> float | None:
            began = time.perf_counter()
            try:
                outcome = journey(stack.app_url, citizen, timeout=DELIVERY_TIMEOUT)
            except (AssertionError, OSError, ValueError) as exc:
                failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                return None
            if outcome.state != "confirmed":
                failures.append(f"the application ended {outcome.state!r}")
                return None
            if not sinks.wait(outcome.reference, DELIVERY_TIMEOUT):
                failures.append("the email or SMS did not reach the sinks")
                return None
            return time.perf_counter() - began

        began = time.perf_counter()
        with ThreadPoolExecutor(in_flight) as pool:
            results = list(pool.map(one, citizens))
        elapsed = time.perf_counter() - began
        sinks.stop()
    done = sorted(r for r in results if r is not None)
    return len(done) / elapsed, done, failures


def journey_benchmark(session: Session) -> list[Figure]:
    rate, latencies, failures = run()
    if failures:
        session.notes.append(
            f"journey: {len(failures)} of {JOURNEYS} journeys failed (first: {failures[0]})"
        )
    label = f"{JOURNEYS} journeys, {IN_FLIGHT} in flight, SQLite"
    return [
        Figure("journey", f"journeys/s ({label})", rate, "journeys/s"),
        Figure("journey", f"journey p99 ({label})", percentile(latencies, 99) * 1000, "ms"),
        Figure("journey", f"journey p50 ({label})", percentile(latencies, 50) * 1000, "ms"),
        Figure("journey", "failed journeys", float(len(failures)), "journeys"),
    ]


if __name__ == "__main__":  # a quick look without the whole bench
    rate, latencies, failures = run()
    print(
        f"{rate:.2f} journeys/s, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.0f} ms, {len(failures)} failed"
    )
    for reason in sorted(set(failures)):
        print(f"  {failures.count(reason)} x {reason}")
