"""axe-core, pinned, run in Chromium over a page: WCAG 2.0, 2.1 and 2.2 A and AA.

axe-core comes from the npm registry, installed with Debian's npm into
``var/npm`` (git-ignored) the first time a test needs it. When it cannot be
installed the test is skipped on a developer's machine and fails in CI
(``CI=true``), as PostgreSQL, Redis and Chromium are.

    from tests.support.axe import assert_accessible
    assert_accessible(page)  # after page.goto(...): raises listing each violation
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.databases import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE_VERSION = "4.10.3"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
PREFIX = Path(__file__).parents[2] / "var" / "npm" / f"axe-core-{AXE_VERSION}"
SCRIPT = PREFIX / "node_modules" / "axe-core" / "axe.min.js"
_install = threading.Lock()


@cache
def axe_source() -> str:
    """axe.min.js of the pinned version, installed on first use."""
    with _install:
        if not SCRIPT.is_file():
            _npm_install()
    return SCRIPT.read_text()


def _npm_install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed (apt-get install npm): axe-core cannot be fetched")
    PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(PREFIX),
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            f"axe-core@{AXE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not SCRIPT.is_file():
        unavailable(f"npm could not install axe-core@{AXE_VERSION}: {done.stderr.strip()[-500:]}")


def violations(page: Page) -> list[dict[str, Any]]:
    """What axe finds on the page as it is now, for the WCAG A and AA tags."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    found: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")),
            }));
        }""",
        list(WCAG_TAGS),
    )
    return found


def assert_accessible(page: Page) -> None:
    found = violations(page)
    assert found == [], f"{page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes'][:3]}" for v in found
    )
