"""gaap-client installs on its own: its wheel carries the generated protobuf code,
and a fresh virtual environment that installs it gets a working library and none
of the platform's server stack.

Slow on purpose (about a minute): it builds the wheel twice, makes a virtual
environment, and installs the wheel's dependencies from the package registry
(pinned to requirements.lock's versions, so pip's cache usually serves them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from scripts.build_client import ROOT, build_wheel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PROBE = Path(__file__).with_name("standalone_probe.py")
# What a client needs, and all of it.
REQUIRED = {
    "authlib",
    "cryptography",
    "googleapis-common-protos",
    "grpcio",
    "grpcio-status",
    "httpx",
    "joserfc",
    "protobuf",
}
# The platform's server stack: none of it may come along.
SERVER_ONLY = {
    "aiosmtpd",
    "aiosmtplib",
    "alembic",
    "argon2-cffi",
    "babel",
    "gaap",
    "grpcio-health-checking",
    "grpcio-reflection",
    "jinja2",
    "opentelemetry-sdk",
    "phonenumbers",
    "prometheus-client",
    "psycopg",
    "psycopg-binary",
    "pydantic-settings",
    "pyotp",
    "python-multipart",
    "redis",
    "segno",
    "sqlalchemy",
    "starlette",
    "stripe",
    "uvicorn",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


def test_the_wheel_is_reproducible(wheel: Path, tmp_path: Path) -> None:
    """The same tree gives the same bytes: the generated code and every date."""
    again = build_wheel(tmp_path)
    assert (
        hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(wheel.read_bytes()).digest()
    )


def test_the_wheel_holds_the_client_and_the_generated_code_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(archive.read(metadata_name).decode())
    client = {p.name for p in (ROOT / "gaap_client").glob("*.py")}
    assert {f"gaap_client/{name}" for name in client} | {"gaap_client/py.typed"} == {
        n for n in names if n.startswith("gaap_client/")
    }
    for proto in sorted((ROOT / "protos").rglob("*.proto")):
        stem = proto.relative_to(ROOT / "protos").with_suffix("").as_posix()
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert stem + suffix in names
    assert "gaap/py.typed" in names
    tops = {n.split("/")[0] for n in names}
    assert tops == {"gaap", "gaap_client", wheel.name.split("-py3")[0] + ".dist-info"}
    assert (meta["Name"], meta["Version"]) == ("gaap-client", "0.1.0")
    requirements = meta.get_all("Requires-Dist") or []
    assert {re.split("[<>=;]", r)[0].strip().lower() for r in requirements} == REQUIRED


def test_a_fresh_environment_gets_a_working_client_and_no_server(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    installed = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--find-links",
            str(wheel.parent),
            # The dependencies at the versions the repository tests (from the registry).
            "--constraint",
            str(ROOT / "requirements.lock"),
            "gaap-client",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr

    # Run from an empty folder, isolated (-I): only the environment's packages.
    elsewhere = tmp_path / "agency-backend"
    elsewhere.mkdir()
    ran = subprocess.run(
        [str(python), "-I", str(PROBE)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert (seen["client_id"], seen["service"]) == ("ag_probe", "probe")
    assert seen["refused"] == [["amount", "too big"]]
    assert Path(seen["gaap_client_file"]).is_relative_to(venv)
    assert not any(Path(p).is_relative_to(ROOT) for p in seen["path"] if p)

    names = set(seen["installed"])
    assert names >= REQUIRED
    assert names & SERVER_ONLY == set()
    importable = subprocess.run(
        [str(python), "-I", "-c", "import services"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        check=False,
    )
    assert importable.returncode != 0
