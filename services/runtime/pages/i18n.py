"""Message catalogues and the choice of a page's language.

Catalogues are ``<dir>/<locale>/LC_MESSAGES/messages.po`` files (``zh_Hans``
for Simplified Chinese), compiled in memory with Babel the first time they are
loaded: editing a ``.po`` file needs no build step. English is the source
language, so it needs no catalogue.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DOMAIN = "messages"


def locale_dir_name(tag: str) -> str:
    """``zh-Hans`` -> ``zh_Hans`` (the directory and Babel locale name)."""
    return tag.replace("-", "_")


class Catalogue:
    """Translations for each supported language tag, merged from several
    directories (later ones win: a service's own messages over the toolkit's)."""

    def __init__(self, languages: Sequence[str], directories: Sequence[Path]) -> None:
        if not languages:
            raise ValueError("at least one language")
        self.languages = tuple(languages)
        self.default = self.languages[0]
        self._translations: dict[str, NullTranslations] = {}
        for tag in self.languages:
            merged: NullTranslations | None = None
            for directory in directories:
                compiled = _compile(
                    directory / locale_dir_name(tag) / "LC_MESSAGES" / f"{DOMAIN}.po"
                )
                if compiled is None:
                    continue
                if merged is None:
                    merged = compiled
                else:
                    assert isinstance(merged, Translations)
                    merged.merge(compiled)
            self._translations[tag] = merged or NullTranslations()

    def translations(self, tag: str) -> NullTranslations:
        return self._translations.get(tag) or self._translations[self.default]

    def gettext(self, tag: str, message: str) -> str:
        return self.translations(tag).gettext(message)

    def babel_locale(self, tag: str) -> str:
        return locale_dir_name(tag)


def _compile(po_file: Path) -> Translations | None:
    if not po_file.is_file():
        return None
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=po_file.parent.parent.name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def choose_language(
    supported: Sequence[str],
    *,
    explicit: str | None = None,
    cookie: str | None = None,
    hint: str | None = None,
    accept_language: str | None = None,
) -> str:
    """The page's language: an explicit choice (``?lang=``), then the language
    switch's cookie, then the service's hint (what the agency asked for), then
    the browser's ``Accept-Language``, then the first supported language."""
    for candidate in (explicit, cookie, hint):
        if candidate:
            found = match(supported, candidate)
            if found:
                return found
    for requested in parse_accept_language(accept_language or ""):
        found = match(supported, requested)
        if found:
            return found
    return supported[0]


def match(supported: Sequence[str], requested: str) -> str | None:
    """The supported tag for ``requested``: exact, else the same language with a
    compatible script (``zh-CN`` is Simplified, ``zh-TW`` is not)."""
    lowered = {tag.lower(): tag for tag in supported}
    if requested.lower() in lowered:
        return lowered[requested.lower()]
    wanted = _locale(requested)
    if wanted is None:
        return None
    for tag in supported:
        offered = _locale(tag)
        if offered is None or offered.language != wanted.language:
            continue
        if wanted.script and offered.script and wanted.script != offered.script:
            continue
        return tag
    return None


def _locale(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag.strip(), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def parse_accept_language(header: str) -> list[str]:
    """Language tags by descending quality (``q=0`` means "not this")."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]
