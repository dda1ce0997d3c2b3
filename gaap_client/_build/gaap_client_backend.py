"""gaap-client's build backend: setuptools, with the platform's protobuf code
generated into the wheel.

``gen/`` is never committed, so the wheel cannot copy it: ``build_py`` runs
protoc (grpcio-tools) and mypy-protobuf, both pinned in ``[build-system]``, on
``protos/`` (next to this project in the repository), exactly as
``scripts/gen_protos.sh`` does for the repository itself. The same commit and
the same pins give the same files, and with ``SOURCE_DATE_EPOCH`` set the same
wheel, byte for byte.

It is an in-tree backend (PEP 517 ``backend-path``) so that the hook needs no
``setup.py`` inside the package's folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from importlib import resources
from pathlib import Path

from setuptools.build_meta import *  # type: ignore[import-untyped]  # noqa: F403
from setuptools.command.build_py import build_py  # type: ignore[import-untyped]

PROJECT = Path(__file__).resolve().parent.parent  # gaap_client/
PROTOS = PROJECT.parent / "protos"
PLUGINS = ("protoc-gen-mypy", "protoc-gen-mypy_grpc")  # mypy-protobuf's two plugins


class GenerateProtos(build_py):  # type: ignore[misc]
    """``build_py`` that also writes the ``gaap`` package: messages, gRPC stubs and
    their ``.pyi`` type stubs, for every proto under ``protos/``."""

    def run(self) -> None:
        super().run()
        generate(Path(self.build_lib))


def generate(out: Path) -> None:
    from grpc_tools import protoc  # type: ignore[import-untyped]

    if not PROTOS.is_dir():
        raise SystemExit(
            f"gaap-client: no protos at {PROTOS}; build it from the GaaP repository "
            "(scripts/build_client.py)"
        )
    protos = sorted(p.relative_to(PROTOS).as_posix() for p in PROTOS.rglob("*.proto"))
    well_known = resources.files("grpc_tools") / "_proto"  # google/protobuf/*.proto
    plugins = [f"--plugin={name}={_plugin(name)}" for name in PLUGINS]
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTOS}",
        f"--proto_path={well_known}",
        *plugins,
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("gaap-client: protoc failed on protos/ (its errors are above)")
    # Regular packages, typed (PEP 561), as gen_protos.sh makes them.
    for folder in sorted(p for p in (out / "gaap").rglob("*") if p.is_dir()):
        (folder / "__init__.py").touch()
    (out / "gaap" / "__init__.py").touch()
    (out / "gaap" / "py.typed").touch()


def _plugin(name: str) -> str:
    """mypy-protobuf's plugin script, in the environment that runs the build."""
    folders = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    for folder in folders:
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name, path=os.environ.get("PATH"))
    if found is None:
        raise SystemExit(f"gaap-client: {name} not found; the build needs mypy-protobuf")
    return found
