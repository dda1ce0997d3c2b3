"""docs/quickstart.md works as written: its create-agency command onboards an agency
on a real ``make run``, and both scripts run the whole journey against it."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import devstack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"
STEPS = ("1. ", "2. ", "3. ", "4-5. ", "6. ", "7. ", "8. signed in: ")


def commands() -> list[str]:
    """The page's shell commands, continuation lines joined."""
    blocks = re.findall(r"^```sh\n(.*?)^```", QUICKSTART.read_text(), re.S | re.M)
    return [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]


def the_command(starting: str) -> list[str]:
    [found] = [c for c in commands() if c.startswith(starting)]
    return shlex.split(found)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[devstack.Devstack]:
    with devstack.running(tmp_path_factory.mktemp("quickstart") / "var") as running:
        yield running


@pytest.fixture(scope="module")
def agency_file(stack: devstack.Devstack) -> Path:
    """The page's create-agency command, run from the repository root as it says."""
    argv = the_command(".venv/bin/gaap-admin create-agency")
    assert argv[-2:] == [">", "var/agency.json"], argv
    done = subprocess.run(
        argv[:-2], cwd=ROOT, env=stack.env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    path = stack.var / "agency.json"
    path.write_text(done.stdout)
    return path


def run_script(argv: list[str], stack: devstack.Devstack, agency_file: Path) -> str:
    """The page's command for a script, with the agency file the test wrote."""
    assert argv[-1] == "var/agency.json", argv
    if argv[0] == ".venv/bin/python":
        argv = [sys.executable, *argv[1:]]
    done = subprocess.run(
        [*argv[:-1], str(agency_file)],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def assert_whole_journey(output: str, stack: devstack.Devstack, agency_file: Path) -> None:
    lines = output.splitlines()
    assert [line[: len(step)] for line, step in zip(lines, STEPS, strict=True)] == list(STEPS)
    payment_id = re.search(r"^3\. payment (pay_[0-9a-f]+) ", output, re.M)
    assert payment_id, output
    # What the platform itself now says about the script's payment: paid, then
    # refunded in full.
    agency = json.loads(agency_file.read_text())
    token = httpx.post(
        stack.issuer + "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "payments:read"},
        auth=(agency["client_id"], agency["client_secret"]),
    ).json()["access_token"]
    payment = httpx.post(
        stack.http("payments") + "/gaap.payments.v1.PaymentsService/GetPayment",
        json={"paymentId": payment_id.group(1)},
        headers={"authorization": f"Bearer {token}"},
    ).json()
    assert (payment["state"], payment["capturedAmount"]) == ("PAYMENT_STATE_SUCCESS", "4000")
    assert payment.get("refundableAmount", "0") == "0"
    assert output.rstrip().endswith("demo.citizen@example.com")


def test_the_python_quickstart_runs_the_whole_journey(
    stack: devstack.Devstack, agency_file: Path
) -> None:
    output = run_script(the_command(".venv/bin/python examples/quickstart.py"), stack, agency_file)
    assert_whole_journey(output, stack, agency_file)


def test_the_curl_quickstart_runs_the_whole_journey(
    stack: devstack.Devstack, agency_file: Path
) -> None:
    output = run_script(the_command("examples/quickstart.sh"), stack, agency_file)
    assert_whole_journey(output, stack, agency_file)


def test_the_agency_has_every_scope_the_journey_needs(agency_file: Path) -> None:
    agency = json.loads(agency_file.read_text())
    assert set(agency["scopes"]) == {
        "payments:create",
        "payments:read",
        "payments:refund",
        "notify:send",
        "notify:templates",
        "notify:read",
        "openid",
        "profile",
        "email",
        "phone",
    }
    assert agency["redirect_uris"] == ["http://127.0.0.1:8000/callback"]
