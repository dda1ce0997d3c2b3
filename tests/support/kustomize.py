"""The Kubernetes manifests as a cluster would receive them, rendered by the real
kustomize (``kubectl kustomize``). kubectl comes with the machine image; .ci/run
checks it is there."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs pinned

from tests.support.databases import unavailable

Resource = dict[str, Any]
# The deploy tests' ``kustomize`` fixture: a kustomization directory -> its resources.
Kustomize = Callable[[Path], list[Resource]]


def require_kubectl() -> str:
    """kubectl's path; skip locally, fail in CI, if it is not installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable(
            "kubectl is not installed: the Kubernetes tests render the overlays with "
            "`kubectl kustomize` (Debian: apt-get install kubectl)"
        )
    return kubectl


def render(kubectl: str, folder: Path) -> list[Resource]:
    """Every resource ``kubectl kustomize folder`` prints, freshly parsed."""
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {folder} failed:\n{result.stderr}", pytrace=False)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
