"""The protos with their comments: ``protoc`` (grpc_tools, a dev dependency) reads
``protos/`` with source info, and each element's leading comment is indexed by
its full name (``gaap.payments.v1.Payment.amount``)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
# Path tags of descriptor.proto (FileDescriptorProto, DescriptorProto, ...).
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _NESTED, _NESTED_ENUM, _VALUE, _METHOD = 2, 3, 4, 2, 2

# The agency-facing services and their proto packages, as the docs name them.
SERVICES = {
    "identity": ("gaap.identity.v1.IdentityService", "gaap.common.v1.CallerService"),
    "payments": ("gaap.payments.v1.PaymentsService", "gaap.common.v1.CallerService"),
    "notify": ("gaap.notify.v1.NotifyService", "gaap.common.v1.CallerService"),
}


@dataclass(frozen=True)
class ProtoSet:
    files: list[descriptor_pb2.FileDescriptorProto]  # ours only, sorted by name
    comments: dict[str, str]


def load() -> ProtoSet:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        subprocess.run(  # noqa: S603 - our own interpreter and paths
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTOS}",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                *sources,
            ],
            check=True,
        )
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    files = sorted(descriptor_set.file, key=lambda f: f.name)
    comments: dict[str, str] = {}
    for file in files:
        comments.update(_comments(file))
    return ProtoSet(files, comments)


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    names: dict[tuple[int, ...], str] = {}
    package = file.package

    def message(path: tuple[int, ...], prefix: str, msg: descriptor_pb2.DescriptorProto) -> None:
        full = f"{prefix}.{msg.name}"
        names[path] = full
        for i, field in enumerate(msg.field):
            names[(*path, _FIELD, i)] = f"{full}.{field.name}"
        for i, nested in enumerate(msg.nested_type):
            message((*path, _NESTED, i), full, nested)
        for i, enum in enumerate(msg.enum_type):
            enumeration((*path, _NESTED_ENUM, i), full, enum)

    def enumeration(
        path: tuple[int, ...], prefix: str, enum: descriptor_pb2.EnumDescriptorProto
    ) -> None:
        full = f"{prefix}.{enum.name}"
        names[path] = full
        for i, value in enumerate(enum.value):
            names[(*path, _VALUE, i)] = f"{full}.{value.name}"

    for i, msg in enumerate(file.message_type):
        message((_MESSAGE, i), package, msg)
    for i, enum in enumerate(file.enum_type):
        enumeration((_ENUM, i), package, enum)
    for i, service in enumerate(file.service):
        full = f"{package}.{service.name}"
        names[(_SERVICE, i)] = full
        for j, method in enumerate(service.method):
            names[(_SERVICE, i, _METHOD, j)] = f"{full}.{method.name}"
    found: dict[str, str] = {}
    for location in file.source_code_info.location:
        name = names.get(tuple(location.path))
        text = location.leading_comments.strip()
        if name and text:
            found[name] = " ".join(line.strip() for line in text.splitlines())
    return found
