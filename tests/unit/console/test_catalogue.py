"""Every word the console's pages show has its Simplified Chinese translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from services.console.web import texts
from services.console.web.features import FEATURES

WEB = Path(__file__).parents[3] / "services" / "console" / "web"
TOOLKIT = Path(__file__).parents[3] / "services" / "runtime" / "pages" / "locales"


def catalogue() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in (TOOLKIT, WEB / "locales"):
        with (folder / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as f:
            found.update({str(m.id): str(m.string) for m in read_po(f) if m.id})
    return found


def test_every_string_of_the_pages_is_translated() -> None:
    wanted = [*texts.AUDIT_ACTIONS.values(), *texts.NAMES, *texts.MESSAGES]
    wanted += [f.title for f in FEATURES] + [f.description for f in FEATURES]
    for template in (WEB / "templates").glob("*.html"):
        source = template.read_text()
        wanted += re.findall(r'_\(\s*"([^"]+)"', source) + re.findall(r"_\(\s*'([^']+)'", source)
    translated = catalogue()
    assert sorted({w for w in wanted if not translated.get(w)}) == []


def test_translations_keep_their_placeholders() -> None:
    for english, chinese in catalogue().items():
        assert sorted(re.findall(r"%\(\w+\)s", english)) == sorted(
            re.findall(r"%\(\w+\)s", chinese)
        ), english
