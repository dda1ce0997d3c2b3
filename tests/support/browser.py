"""Headless Chromium for end-to-end tests: Debian's chromium driven by Playwright.

Playwright's own browser download does not work here, so the executable path is
set. Locally a missing chromium skips browser tests; in CI it fails them.
"""

from __future__ import annotations

import os
import shutil

from tests.support.databases import unavailable

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = os.environ.get("GAAP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    return path
