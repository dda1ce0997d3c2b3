"""``python -m services.runtime.probe [service]``: exit 0 when the service's gRPC
health check answers SERVING on its own listener, 1 otherwise.

The container image's HEALTHCHECK runs it (the service comes from the argument
or ``GAAP_SERVICE``, e.g. ``gaap-payments``), and so may Kubernetes as an exec
probe where its built-in gRPC probe cannot be used (it speaks no TLS). It speaks
TLS, and mutual TLS, with the process's own settings. For notify's worker,
which has no listener, it checks the worker loop's heartbeat file instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import grpc
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime import config, tls
from services.runtime.errors import StartupError
from services.runtime.heartbeat import heartbeat_path, is_fresh
from services.runtime.migrate import SERVICES, settings_class

# Processes without a listener: alive while their main loop's heartbeat is fresh.
NO_LISTENER = ("notify-worker",)


def target(address: str) -> str:
    """The listen address as a local target (a wildcard host means localhost)."""
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "[::]", "::", ""):  # noqa: S104 - a wildcard, not a bind
        host = "127.0.0.1"
    return f"{host}:{port}"


def _tls_name(cert_file: str) -> str | None:
    """The first DNS name of our own certificate: what the probe expects to see."""
    with open(cert_file, "rb") as handle:
        cert = x509.load_pem_x509_certificates(handle.read())[0]
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    dns = names.value.get_values_for_type(x509.DNSName)
    return dns[0] if dns else None


def check(service: str, timeout: float = 3.0) -> bool:
    platform = config.load(config.PlatformSettings)
    server = config.load(settings_class(service))
    address = target(server.grpc_address)
    if platform.tls_cert_file:
        name = _tls_name(platform.tls_cert_file)
        options = [("grpc.ssl_target_name_override", name)] if name else []
        channel = grpc.secure_channel(address, tls.channel_credentials(platform), options)
    else:
        channel = grpc.insecure_channel(address)
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    service = (args[0] if args else os.environ.get("GAAP_SERVICE", "")).removeprefix("gaap-")
    if service in NO_LISTENER:
        var_dir = config.load(config.PlatformSettings).var_dir
        raise SystemExit(0 if is_fresh(heartbeat_path(var_dir, service)) else 1)
    if service not in SERVICES:
        sys.stderr.write(f"probe: unknown service {service!r}\n")
        raise SystemExit(2)
    try:
        healthy = check(service)
    except StartupError as exc:
        sys.stderr.write(f"probe: {exc}\n")
        raise SystemExit(2) from None
    raise SystemExit(0 if healthy else 1)


if __name__ == "__main__":
    main()
