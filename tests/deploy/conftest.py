"""The deploy tests' renderer: the real kustomize."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import kustomize as support


@pytest.fixture(scope="session")
def kustomize() -> support.Kustomize:
    """Render a kustomization directory with ``kubectl kustomize`` (skip locally,
    fail in CI, without kubectl). Each call parses afresh, so a test may change
    what it gets."""
    kubectl = support.require_kubectl()

    def render(folder: Path) -> list[support.Resource]:
        return support.render(kubectl, folder)

    return render
