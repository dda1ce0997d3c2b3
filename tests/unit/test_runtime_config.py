"""Settings from the environment: defaults that just work, and one-line startup errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from services.identity.settings import IdentitySettings
from services.notify.settings import NotifySettings
from services.payments.settings import PaymentsSettings
from services.runtime import config
from services.runtime.config import PlatformSettings, ServerSettings, load
from services.runtime.errors import StartupError

PREFIXES = ("GAAP_", "IDENTITY_", "PAYMENTS_", "NOTIFY_")
CHECKOUT = Path(__file__).resolve().parents[2]  # the repository these tests run from


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the variables it sets, whatever the developer's shell has."""
    for name in list(os.environ):
        if name.startswith(PREFIXES) or name == "REDIS_URL":
            monkeypatch.delenv(name)


def startup_error(cls: type[BaseSettings]) -> str:
    with pytest.raises(StartupError) as info:
        load(cls)
    message = str(info.value)
    assert "\n" not in message, "main prints the message as one line"
    return message


def test_platform_defaults() -> None:
    settings = load(PlatformSettings)
    assert settings.issuer == "http://127.0.0.1:8081"
    assert settings.resolved_jwks_url == "http://127.0.0.1:8081/.well-known/jwks.json"
    assert settings.var_dir == CHECKOUT / "var"
    assert settings.log_level == "INFO"
    assert settings.shutdown_grace_seconds == 10.0
    assert settings.grpc_max_workers >= 1
    assert settings.redis_url == ""


@pytest.mark.parametrize(
    ("cls", "grpc", "http"),
    [
        (IdentitySettings, "127.0.0.1:50051", "127.0.0.1:8081"),
        (PaymentsSettings, "127.0.0.1:50052", "127.0.0.1:8082"),
        (NotifySettings, "127.0.0.1:50053", "127.0.0.1:8083"),
    ],
)
def test_server_defaults(cls: type[ServerSettings], grpc: str, http: str) -> None:
    settings = load(cls)
    assert settings.grpc_address == grpc
    assert settings.http_address == http


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GAAP_ISSUER", "https://identity.example.gov.uk")
    monkeypatch.setenv("GAAP_JWKS_URL", "https://keys.example.gov.uk/jwks.json")
    monkeypatch.setenv("GAAP_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("GAAP_SHUTDOWN_GRACE_SECONDS", "0")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("PAYMENTS_GRPC_ADDRESS", "0.0.0.0:6000")
    platform = load(PlatformSettings)
    assert platform.issuer == "https://identity.example.gov.uk"
    assert platform.resolved_jwks_url == "https://keys.example.gov.uk/jwks.json"
    assert platform.var_dir == tmp_path
    assert platform.shutdown_grace_seconds == 0
    assert platform.redis_url == "redis://127.0.0.1:6379/0"
    payments = load(PaymentsSettings)
    assert payments.grpc_address == "0.0.0.0:6000"
    assert payments.http_address == "127.0.0.1:8082"


def test_resolved_database_url_defaults_to_sqlite_under_var_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GAAP_VAR_DIR", str(tmp_path / "state"))
    platform = load(PlatformSettings)
    identity = load(IdentitySettings)
    assert identity.database_url == ""
    assert identity.resolved_database_url(platform) == (
        f"sqlite:///{tmp_path / 'state' / 'identity.db'}"
    )


def test_the_default_database_is_in_the_checkouts_var_whatever_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """gaap-admin run from another folder must find the running platform's
    databases, not start new ones there."""
    monkeypatch.chdir(tmp_path)
    platform = load(PlatformSettings)
    assert platform.var_dir == CHECKOUT / "var"
    assert load(IdentitySettings).resolved_database_url(platform) == (
        f"sqlite:///{CHECKOUT / 'var' / 'identity.db'}"
    )


def test_an_installed_copy_without_a_checkout_uses_var_in_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed = tmp_path / "site-packages" / "services" / "runtime" / "config.py"
    monkeypatch.setattr(config, "__file__", str(installed))
    assert config.checkout_var_dir() == Path("var")


def test_explicit_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://gaap@db.internal/identity"
    monkeypatch.setenv("IDENTITY_DATABASE_URL", url)
    assert load(IdentitySettings).resolved_database_url(load(PlatformSettings)) == url


@pytest.mark.parametrize(
    ("cls", "variable", "value"),
    [
        (PlatformSettings, "GAAP_ISSUER", "ftp://x"),
        (PlatformSettings, "GAAP_ISSUER", "https://identity.example.gov.uk/"),
        (PlatformSettings, "GAAP_SHUTDOWN_GRACE_SECONDS", "-1"),
        (PlatformSettings, "GAAP_SHUTDOWN_GRACE_SECONDS", "soon"),
        (PlatformSettings, "GAAP_GRPC_MAX_WORKERS", "0"),
        (PlatformSettings, "GAAP_LOG_LEVEL", "LOUD"),
        (IdentitySettings, "IDENTITY_GRPC_ADDRESS", "nope"),
        (IdentitySettings, "IDENTITY_HTTP_ADDRESS", "127.0.0.1"),
        (PaymentsSettings, "PAYMENTS_GRPC_ADDRESS", "127.0.0.1:99999"),
        (NotifySettings, "NOTIFY_HTTP_ADDRESS", ":8083"),
    ],
)
def test_bad_variable_is_a_one_line_startup_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert variable in startup_error(cls)


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAAP_ISSUER", "ftp://x")
    monkeypatch.setenv("GAAP_SHUTDOWN_GRACE_SECONDS", "-1")
    message = startup_error(PlatformSettings)
    assert "GAAP_ISSUER" in message
    assert "GAAP_SHUTDOWN_GRACE_SECONDS" in message
