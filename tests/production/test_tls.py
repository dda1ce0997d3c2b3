"""TLS on every gRPC and HTTP listener, mutual TLS between services, with a CA the
test creates; payments fetches identity's JWKS over TLS."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from gaap.common.v1 import caller_pb2, caller_pb2_grpc

from services.identity import bootstrap as identity_bootstrap
from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.payments import bootstrap as payments_bootstrap
from services.payments.settings import PaymentsSettings
from services.runtime import process, tls
from services.runtime.config import PlatformSettings
from services.runtime.errors import StartupError
from services.runtime.process import RunningService
from tests.production.certs import Authority, Issued
from tests.support.platform import LOCAL, bearer, free_port


@dataclass
class Pki:
    ca: Authority
    identity: Issued
    payments: Issued
    agency: Issued
    stranger: Issued  # signed by another CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = Authority(folder)
    other = Authority(folder, "Other CA")
    return Pki(ca, ca.issue("identity"), ca.issue("payments"), ca.issue("agency"), other.issue("x"))


@dataclass
class TlsPlatform:
    identity: RunningService
    payments: RunningService
    client_id: str
    client_secret: str


@contextmanager
def tls_platform(var: Path, pki: Pki, *, mutual: bool) -> Iterator[TlsPlatform]:
    port = free_port()
    common: dict[str, Any] = {
        "issuer": f"https://127.0.0.1:{port}",
        "var_dir": var,
        "tls_ca_file": str(pki.ca.cert_file),
        "tls_client_ca_file": str(pki.ca.cert_file) if mutual else "",
    }
    identity_platform = PlatformSettings(
        **common, tls_cert_file=str(pki.identity.cert), tls_key_file=str(pki.identity.key)
    )
    identity_settings = IdentitySettings(
        database_url=f"sqlite:///{var}/identity.db",
        grpc_address=LOCAL,
        http_address=f"127.0.0.1:{port}",
        metrics_address=LOCAL,
    )
    identity = process.start(identity_bootstrap.build(identity_platform, identity_settings))
    payments_platform = PlatformSettings(
        **common,
        jwks_url=identity.http_url + "/.well-known/jwks.json",
        tls_cert_file=str(pki.payments.cert),
        tls_key_file=str(pki.payments.key),
    )
    payments = process.start(
        payments_bootstrap.build(
            payments_platform,
            PaymentsSettings(
                database_url=f"sqlite:///{var}/payments.db", grpc_address=LOCAL, http_address=LOCAL
            ),
        )
    )
    admin = open_identity(identity_platform, identity_settings)
    created = admin.registry.create(name="TLS agency", scopes=["payments:read"], mode="test")
    assert created.client_secret
    try:
        yield TlsPlatform(identity, payments, created.agency.client_id, created.client_secret)
    finally:
        payments.stop(grace=1)
        identity.stop(grace=1)
        admin.database.close()


def client_context(pki: Pki, cert: Issued | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca.cert_file))
    if cert is not None:
        context.load_cert_chain(str(cert.cert), str(cert.key))
    return context


def credentials(pki: Pki, cert: Issued | None) -> grpc.ChannelCredentials:
    root = pki.ca.cert_file.read_bytes()
    if cert is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=cert.key.read_bytes(),
        certificate_chain=cert.cert.read_bytes(),
    )


def token(platform: TlsPlatform, verify: ssl.SSLContext) -> str:
    response = httpx.post(
        platform.identity.http_url + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(platform.client_id, platform.client_secret),
        verify=verify,
    )
    assert response.status_code == 200, response.text
    access_token: str = response.json()["access_token"]
    return access_token


def caller(target: str, creds: grpc.ChannelCredentials | None, token: str) -> str:
    channel = (
        grpc.secure_channel(target, creds) if creds is not None else grpc.insecure_channel(target)
    )
    with channel:
        reply = caller_pb2_grpc.CallerServiceStub(channel).GetCallerIdentity(
            caller_pb2.GetCallerIdentityRequest(), metadata=bearer(token), timeout=10
        )
        return str(reply.client_id)


def test_grpc_and_http_speak_tls_and_payments_fetches_the_jwks_over_tls(
    tmp_path: Path, pki: Pki
) -> None:
    with tls_platform(tmp_path, pki, mutual=False) as platform:
        assert platform.identity.http_url.startswith("https://")
        access = token(platform, client_context(pki, None))
        # payments had to fetch identity's keys over HTTPS, trusting the test CA.
        assert caller(platform.payments.grpc_target, credentials(pki, None), access) == (
            platform.client_id
        )
        healthz = httpx.get(
            platform.payments.http_url + "/healthz", verify=client_context(pki, None)
        )
        assert healthz.status_code == 200
        # Plaintext is refused on both kinds of listener.
        with pytest.raises(grpc.RpcError) as caught:
            caller(platform.payments.grpc_target, None, access)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(httpx.TransportError):
            httpx.get(platform.payments.http_url.replace("https://", "http://") + "/healthz")
        # A client that does not trust the CA refuses the server.
        with pytest.raises(httpx.ConnectError):
            httpx.get(platform.identity.http_url + "/healthz")


def test_mutual_tls_refuses_clients_without_a_certificate_from_the_ca(
    tmp_path: Path, pki: Pki
) -> None:
    with tls_platform(tmp_path, pki, mutual=True) as platform:
        access = token(platform, client_context(pki, pki.agency))
        # payments presents its own certificate to fetch identity's keys.
        assert caller(platform.payments.grpc_target, credentials(pki, pki.agency), access) == (
            platform.client_id
        )
        for cert in (None, pki.stranger):
            with pytest.raises(grpc.RpcError) as caught:
                caller(platform.payments.grpc_target, credentials(pki, cert), access)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            with pytest.raises(httpx.TransportError):
                httpx.get(
                    platform.identity.http_url + "/.well-known/jwks.json",
                    verify=client_context(pki, cert),
                )
        jwks = httpx.get(
            platform.identity.http_url + "/.well-known/jwks.json",
            verify=client_context(pki, pki.agency),
        )
        assert jwks.status_code == 200


def _settings(**files: str) -> PlatformSettings:
    return PlatformSettings.model_validate(files)


def test_bad_certificate_settings_are_one_line_startup_errors(tmp_path: Path, pki: Pki) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = {
        "must be set together": {"tls_cert_file": str(pki.identity.cert)},
        "needs GAAP_TLS_CERT_FILE": {"tls_client_ca_file": str(pki.ca.cert_file)},
        "cannot read": {"tls_cert_file": str(tmp_path / "missing.crt"), "tls_key_file": "x"},
        "does not match": {
            "tls_cert_file": str(pki.identity.cert),
            "tls_key_file": str(pki.payments.key),
        },
        "holds no PEM certificate": {
            "tls_cert_file": str(pki.identity.cert),
            "tls_key_file": str(pki.identity.key),
            "tls_client_ca_file": str(garbage),
        },
    }
    for expected, files in cases.items():
        with pytest.raises(StartupError) as caught:
            tls.server_tls(_settings(**files))
        assert expected in str(caught.value)
        assert "\n" not in str(caught.value)
    with pytest.raises(StartupError, match="GAAP_TLS_CA_FILE"):
        tls.client_context(_settings(tls_ca_file=str(garbage)))


def test_a_process_with_a_mismatched_key_stops_with_one_line(tmp_path: Path, pki: Pki) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAAP_", "IDENTITY_"))}
    env.update(
        GAAP_VAR_DIR=str(tmp_path),
        IDENTITY_GRPC_ADDRESS=LOCAL,
        IDENTITY_HTTP_ADDRESS=LOCAL,
        GAAP_TLS_CERT_FILE=str(pki.identity.cert),
        GAAP_TLS_KEY_FILE=str(pki.payments.key),
    )
    result = subprocess.run(
        [sys.executable, "-m", "services.identity.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert lines == [
        "gaap-identity: GAAP_TLS_CERT_FILE/GAAP_TLS_KEY_FILE: the key does not match the "
        "certificate"
    ], result.stderr
