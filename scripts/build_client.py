"""Build gaap-client's wheel (``gaap_client/pyproject.toml``) into a folder.

``python -m scripts.build_client [OUT_DIR]`` (``make client``; default ``dist/``).

The build runs on a copy of ``gaap_client/`` and ``protos/`` in a temporary
folder, so nothing is written into the checkout (setuptools builds in the project
folder), and without build isolation: it uses this environment's grpcio-tools,
mypy-protobuf and setuptools, pinned in requirements.lock, and needs no network.
``SOURCE_DATE_EPOCH`` (default: 1980-01-01, the earliest a zip file records)
dates every file in the wheel, so the same commit gives the same wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The earliest time a zip file can hold; any fixed value makes the wheel reproducible.
EPOCH_1980 = "315532800"
LEFT_BEHIND = shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "dist")


def build_wheel(out: Path) -> Path:
    """Build the wheel into ``out`` and return its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gaap-client-") as work:
        tree = Path(work)
        shutil.copytree(ROOT / "gaap_client", tree / "gaap_client", ignore=LEFT_BEHIND)
        shutil.copytree(ROOT / "protos", tree / "protos")
        wheels = tree / "wheels"
        env = {**os.environ, "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", EPOCH_1980)}
        subprocess.run(  # noqa: S603 - this interpreter's pip, on paths made here
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-build-isolation",
                "--wheel-dir",
                str(wheels),
                str(tree / "gaap_client"),
            ],
            env=env,
            check=True,
        )
        [wheel] = wheels.glob("gaap_client-*.whl")
        target = out / wheel.name
        shutil.copyfile(wheel, target)
    return target


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist"
    sys.stdout.write(f"{build_wheel(out)}\n")


if __name__ == "__main__":
    main()
