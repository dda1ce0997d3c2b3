"""deploy/compose.yaml and deploy/Dockerfile, checked by reading them (no Docker
engine here): start order, health checks, no secrets inline, one image."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs pinned

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PLATFORM = ("identity", "payments", "notify", "notify-worker")
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|_KEY$|DATABASE_URL|STRIPE", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_platform_postgres_and_redis_are_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {*PLATFORM, "postgres", "redis", "migrate"} <= services.keys()
    images = {services[name]["image"] for name in (*PLATFORM, "migrate")}
    assert len(images) == 1, "one image for every process"
    for name in PLATFORM:
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_databases_one_per_service_are_created(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["postgres"]["volumes"]
    script = next(m for m in mounts if "docker-entrypoint-initdb.d" in m).split(":")[0]
    sql = (DEPLOY / script).read_text()
    for name in ("identity", "payments", "notify"):
        assert f"CREATE DATABASE {name};" in sql
    example = (DEPLOY / "compose" / "secrets.env.example").read_text()
    for name in ("identity", "payments", "notify"):
        assert f"{name.upper()}_DATABASE_URL=postgresql+psycopg://gaap:" in example
        assert example.count(f"@postgres:5432/{name}\n") == 1


def test_start_order_waits_for_health_and_migrations(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in PLATFORM:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert all(
            d["condition"] in ("service_healthy", "service_completed_successfully")
            for d in depends.values()
        )
    for name in ("payments", "notify"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["identity"]["condition"] == "service_healthy"


def test_every_service_and_the_worker_is_health_checked_by_the_probe(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("identity", "payments", "notify", "notify-worker"):
        check = services[name]["healthcheck"]
        assert check["test"] == ["CMD", "python", "-m", "services.runtime.probe"]
        assert services[name]["environment"]["GAAP_SERVICE"] == f"gaap-{name}"


def test_commands_name_real_entry_points(compose: dict[str, Any]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or service.get("image", "").startswith(("postgres", "redis")):
            continue
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(command[2]) is not None, name
        else:
            assert command[0] in scripts, name


def test_no_secret_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            assert not SECRET_NAMES.search(variable), f"{name}: {variable} belongs in secrets.env"
            assert "@" not in str(value), f"{name}: {variable} looks like a URL with credentials"
        if name in PLATFORM or name == "postgres":
            assert service["env_file"] == ["compose/secrets.env"]
    ignored = (ROOT / ".gitignore").read_text() + (DEPLOY / ".gitignore").read_text()
    assert "secrets.env" in ignored


def test_the_console_is_there_with_its_database_and_its_agency_file(
    compose: dict[str, Any],
) -> None:
    console = compose["services"]["console"]
    assert console["command"] == ["gaap-console"]
    assert console["env_file"] == ["compose/secrets.env"]
    assert "/healthz" in " ".join(console["healthcheck"]["test"])
    assert console["depends_on"]["identity"]["condition"] == "service_healthy"
    agency_file = console["environment"]["CONSOLE_AGENCY_FILE"]
    assert any(v.endswith(f":{agency_file}:ro") for v in console["volumes"])
    assert "compose/console-agency.json" in (DEPLOY / ".gitignore").read_text()
    assert "CREATE DATABASE console;" in (DEPLOY / "compose" / "create-databases.sql").read_text()
    example = (DEPLOY / "compose" / "secrets.env.example").read_text()
    assert example.count("@postgres:5432/console\n") == 1


def test_the_dockerfile_is_multi_stage_non_root_without_build_tools() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[1:]
    assert len(stages) == 2
    assert stages[0].split()[2] == "build"
    final = stages[1]
    assert "COPY --from=build /opt/gaap /opt/gaap" in final
    assert re.search(r"^USER 10001:10001$", final, re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "services.runtime.probe" in final
    for tool in ("apt-get", "gcc", "build-essential", "grpcio-tools", "pip install"):
        assert tool not in final, tool
    # The generator's packages are removed from what the final stage copies.
    assert "pip uninstall -y grpcio-tools mypy-protobuf setuptools" in stages[0]
    # Everything the package needs is copied into the build stage.
    for folder in ("protos", "scripts", "services", "gaap_client"):
        assert f"COPY {folder} {folder}" in stages[0]
