"""Placeholders: ``((name))`` and conditional text ``((name??text))``.

Names match ignoring case, spaces, ``_`` and ``-`` (``((First name))`` takes the
value ``first_name``). Conditional text shows when the value says yes
(yes/true/y/1, any case) and hides otherwise. A list value renders as
"a, b and c" in the notification's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.lists import format_list

Value = str | Sequence[str]

PATTERN = re.compile(r"\(\(([^()?]+?)(?:\?\?([^()]*))?\)\)")
_IGNORED = re.compile(r"[\s_\-]+")
_YES = frozenset({"yes", "y", "true", "1"})
# Stored templates' texts are parsed once (``parse``): the text itself is the
# key, so a new version with new wording is a new entry and an old one ages out.
MAX_PARSED_TEXTS = 1024
_MAX_CACHED_NAME = 100


def normalise(name: str) -> str:
    # Names repeat on every send; a long one (never a real name) is not kept.
    return _normalise(name) if len(name) <= _MAX_CACHED_NAME else _IGNORED.sub("", name).lower()


@lru_cache(maxsize=4096)
def _normalise(name: str) -> str:
    return _IGNORED.sub("", name).lower()


@dataclass(frozen=True)
class Placeholder:
    name: str  # normalised
    conditional_text: str | None


@dataclass(frozen=True)
class Parsed:
    """A text cut at its placeholders: ``literal, placeholder`` pairs, then ``tail``."""

    parts: tuple[tuple[str, Placeholder], ...]
    tail: str
    names: tuple[str, ...]  # normalised, in order of first appearance


@lru_cache(maxsize=MAX_PARSED_TEXTS)
def parse(text: str) -> Parsed:
    """``text`` parsed; meant for stored templates' texts (their size is bounded)."""
    parts: list[tuple[str, Placeholder]] = []
    at = 0
    for m in PATTERN.finditer(text):
        parts.append((text[at : m.start()], Placeholder(normalise(m.group(1)), m.group(2))))
        at = m.end()
    names = tuple(dict.fromkeys(p.name for _, p in parts))
    return Parsed(tuple(parts), text[at:], names)


def find(text: str) -> list[Placeholder]:
    """The placeholders in any text (not cached: used on unchecked input too)."""
    return [Placeholder(normalise(m.group(1)), m.group(2)) for m in PATTERN.finditer(text)]


def names_in(texts: Iterable[str]) -> list[str]:
    """Normalised names used in ``texts``, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        seen.update(dict.fromkeys(parse(text).names))
    return list(seen)


def normalise_values(values: Mapping[str, Value]) -> dict[str, Value]:
    return {normalise(k): v for k, v in values.items()}


def missing(texts: Iterable[str], values: Mapping[str, Value]) -> list[str]:
    """Placeholders in ``texts`` with no value (``values`` already normalised)."""
    return [n for n in names_in(texts) if n not in values]


def join_list(items: Sequence[str], language: str) -> str:
    """ "a, b and c" in ``language`` (British English for "en")."""
    cleaned = [i for i in items if i.strip()]
    if not cleaned:
        return ""
    locale = "en_GB" if language.split("-", maxsplit=1)[0] == "en" else language.replace("-", "_")
    try:
        return format_list(cleaned, locale=Locale.parse(locale))
    except (UnknownLocaleError, ValueError):
        return format_list(cleaned, locale="en_GB")


def as_text(value: Value, language: str) -> str:
    return value if isinstance(value, str) else join_list(value, language)


def shows(value: Value) -> bool:
    return isinstance(value, str) and value.strip().lower() in _YES


def substitute(
    text: str,
    values: Mapping[str, Value],
    language: str,
    *,
    value_to: Callable[[str], str] = lambda s: s,
    condition_to: Callable[[str], str] = lambda s: s,
) -> str:
    """Replace every placeholder; ``values`` must be normalised and complete.

    ``value_to`` transforms personalisation values (HTML escaping, markers) and
    ``condition_to`` the template's own conditional text, so the two never mix.
    """

    parsed = parse(text)
    out: list[str] = []
    for literal, placeholder in parsed.parts:
        out.append(literal)
        value = values[placeholder.name]
        conditional = placeholder.conditional_text
        if conditional is not None:
            out.append(condition_to(conditional) if shows(value) else "")
        else:
            out.append(value_to(as_text(value, language)))
    out.append(parsed.tail)
    return "".join(out)
