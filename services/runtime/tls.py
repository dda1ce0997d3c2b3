"""TLS for every listener, and mutual TLS between services, from four settings.

``GAAP_TLS_CERT_FILE`` + ``GAAP_TLS_KEY_FILE``: the process's certificate; every
gRPC and HTTP listener then speaks TLS only. ``GAAP_TLS_CLIENT_CA_FILE``: listeners
also require a client certificate signed by that CA (mutual TLS). ``GAAP_TLS_CA_FILE``:
the CA outbound calls trust (identity's JWKS, notify); outbound calls present the
process's own certificate, so for mutual TLS it needs the clientAuth usage too.

Files are read and checked once, at start: an unreadable file, a key that does not
match its certificate or a CA bundle without certificates is one ``StartupError``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import grpc

from services.runtime.config import PlatformSettings
from services.runtime.errors import StartupError


@dataclass(frozen=True)
class ServerTls:
    """What a listener needs: the PEM bytes (gRPC) and the file names (uvicorn)."""

    cert_file: str
    key_file: str
    client_ca_file: str
    cert: bytes
    key: bytes
    client_ca: bytes | None

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.client_ca,
            require_client_auth=self.mutual,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_certfile": self.cert_file, "ssl_keyfile": self.key_file}
        if self.mutual:
            options.update(ssl_ca_certs=self.client_ca_file, ssl_cert_reqs=ssl.CERT_REQUIRED)
        return options


def server_tls(settings: PlatformSettings) -> ServerTls | None:
    """The listeners' TLS, or ``None`` when no certificate is configured."""
    cert_file, key_file = settings.tls_cert_file, settings.tls_key_file
    if not cert_file and not key_file:
        if settings.tls_client_ca_file:
            raise StartupError(
                "GAAP_TLS_CLIENT_CA_FILE needs GAAP_TLS_CERT_FILE and GAAP_TLS_KEY_FILE"
            )
        return None
    if not cert_file or not key_file:
        raise StartupError("GAAP_TLS_CERT_FILE and GAAP_TLS_KEY_FILE must be set together")
    _check_pair(cert_file, key_file)
    client_ca = None
    if settings.tls_client_ca_file:
        _check_ca("GAAP_TLS_CLIENT_CA_FILE", settings.tls_client_ca_file)
        client_ca = _read("GAAP_TLS_CLIENT_CA_FILE", settings.tls_client_ca_file)
    return ServerTls(
        cert_file=cert_file,
        key_file=key_file,
        client_ca_file=settings.tls_client_ca_file,
        cert=_read("GAAP_TLS_CERT_FILE", cert_file),
        key=_read("GAAP_TLS_KEY_FILE", key_file),
        client_ca=client_ca,
    )


def client_context(settings: PlatformSettings) -> ssl.SSLContext:
    """For outbound HTTPS (httpx ``verify=``): trust ``GAAP_TLS_CA_FILE`` (or the
    system store) and present this process's certificate when a server asks."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if settings.tls_ca_file:
        _check_ca("GAAP_TLS_CA_FILE", settings.tls_ca_file)
        context.load_verify_locations(cafile=settings.tls_ca_file)
    if settings.tls_cert_file and settings.tls_key_file:
        _check_pair(settings.tls_cert_file, settings.tls_key_file)
        context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context


def channel_credentials(settings: PlatformSettings) -> grpc.ChannelCredentials:
    """For outbound gRPC to another service over TLS (and mutual TLS)."""
    root = _read("GAAP_TLS_CA_FILE", settings.tls_ca_file) if settings.tls_ca_file else None
    if settings.tls_cert_file and settings.tls_key_file:
        _check_pair(settings.tls_cert_file, settings.tls_key_file)
        return grpc.ssl_channel_credentials(
            root_certificates=root,
            private_key=_read("GAAP_TLS_KEY_FILE", settings.tls_key_file),
            certificate_chain=_read("GAAP_TLS_CERT_FILE", settings.tls_cert_file),
        )
    return grpc.ssl_channel_credentials(root_certificates=root)


def open_channel(target: str, settings: PlatformSettings, *, secure: bool) -> grpc.Channel:
    """A channel to another GaaP service: TLS when ``secure`` (the target's
    listeners have certificates), with request ids forwarded on every call."""
    from services.runtime.outbound import RequestIdClientInterceptor

    channel = (
        grpc.secure_channel(target, channel_credentials(settings))
        if secure
        else grpc.insecure_channel(target)
    )
    return grpc.intercept_channel(channel, RequestIdClientInterceptor())


def loopback(
    settings: PlatformSettings,
) -> tuple[grpc.ChannelCredentials | None, list[tuple[str, Any]]]:
    """Credentials and options for a service calling its own gRPC server (the JSON
    gateway): the certificate names the service, not 127.0.0.1, so the channel
    checks it against the certificate's first DNS name."""
    if not settings.tls_cert_file:
        return None, []
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(_read("GAAP_TLS_CERT_FILE", settings.tls_cert_file))
    try:
        names = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    options = [("grpc.ssl_target_name_override", names[0])] if names else []
    return channel_credentials(settings), options


def _read(variable: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise StartupError(f"{variable}: cannot read {path}: {exc.strerror}") from None


def _check_pair(cert_file: str, key_file: str) -> None:
    _read("GAAP_TLS_CERT_FILE", cert_file)
    _read("GAAP_TLS_KEY_FILE", key_file)
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        reason = "the key does not match the certificate" if "MISMATCH" in str(exc) else exc.reason
        raise StartupError(
            f"GAAP_TLS_CERT_FILE/GAAP_TLS_KEY_FILE: {reason or 'not a PEM certificate and key'}"
        ) from None


def _check_ca(variable: str, path: str) -> None:
    _read(variable, path)
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except ssl.SSLError:
        raise StartupError(f"{variable}: {path} holds no PEM certificate") from None
